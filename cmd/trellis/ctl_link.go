package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trellis-lattice/trellis/lattice"
)

func newCtlLinkCmd(f *ctlFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "link",
		Short: "Put, delete and list links between actors and providers",
	}
	cmd.AddCommand(newCtlLinkPutCmd(f), newCtlLinkDelCmd(f), newLinksQueryCmd(f))
	return cmd
}

func newCtlLinkPutCmd(f *ctlFlags) *cobra.Command {
	var (
		linkName, account string
		unsigned          bool
		out               outputFormat
	)
	cmd := &cobra.Command{
		Use:   "put ACTOR_ID PROVIDER_ID CONTRACT_ID [KEY=VALUE…]",
		Short: "Link an actor to a provider for a contract, with configuration values",
		Long: `Publish a link: ACTOR_ID may use PROVIDER_ID for CONTRACT_ID under --link-name, with the
KEY=VALUE configuration values. The link is signed (a Trellis extension that hosts with a
link-issuer list require) with --account, else the keystore account key when it exists, unless
--unsigned.`,
		Example: "  trellis ctl link put MB… VA… wasmcloud:httpserver ADDRESS=0.0.0.0:8080",
		Args:    cobra.MinimumNArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			values, err := parseKeyValues("link value", args[3:])
			if err != nil {
				return err
			}
			if looksLikeKey(args[2]) {
				return fmt.Errorf("contract id %q looks like an actor or provider id; give a contract id such as wasmcloud:httpserver", args[2])
			}
			l := lattice.LinkDefinition{ActorID: args[0], ProviderID: args[1], ContractID: args[2], LinkName: linkName, Values: values}
			l.Normalize()
			if err := l.Validate(); err != nil {
				return err
			}
			signer := ""
			if !unsigned {
				kp, err := linkSigner(account)
				if err != nil {
					return err
				}
				if kp != nil {
					if err := lattice.SignLink(&l, kp); err != nil {
						return err
					}
					signer = kp.PublicKey()
				}
			}
			s, err := f.connect(cmd, false)
			if err != nil {
				return err
			}
			defer s.close()
			if err := s.PutLink(cmd.Context(), l); err != nil {
				return err
			}
			// A host took the link, so one answers for claims; without them there is nothing to say.
			if claims, err := s.GetClaims(cmd.Context()); err == nil {
				for _, w := range lattice.LinkWarnings(claims, l) {
					fmt.Fprintln(cmd.ErrOrStderr(), "Warning:", w)
				}
			}
			w := cmd.OutOrStdout()
			if out == outputJSON {
				return writeJSON(w, map[string]any{"accepted": true, "id": l.ID, "actor_id": l.ActorID, "provider_id": l.ProviderID,
					"contract_id": l.ContractID, "link_name": l.LinkName, "values": l.Values, "signed_by": signer})
			}
			how := "unsigned"
			if signer != "" {
				how = "signed by " + signer
			}
			fmt.Fprintf(w, "Published link (%s) <-> (%s) for %s, link name %s (%s)\n", l.ActorID, l.ProviderID, l.ContractID, l.LinkName, how)
			return nil
		},
	}
	cmd.Flags().StringVarP(&linkName, "link-name", "l", lattice.DefaultLinkName, "link name")
	cmd.Flags().StringVar(&account, "account", "", "account seed (SA…) or a file holding it, to sign the link (default: the keystore account key, if any)")
	cmd.Flags().BoolVar(&unsigned, "unsigned", false, "publish the link without signing it")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

// linkSigner is the account key that signs links: --account, else the keystore's account key
// when it exists, else none.
func linkSigner(account string) (*lattice.KeyPair, error) {
	if account != "" {
		return seedOrFile("account", account, lattice.PrefixAccount)
	}
	ks, err := defaultKeyStore()
	if err != nil {
		return nil, err
	}
	kp, _, err := ks.load(accountKeyName(), lattice.PrefixAccount)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return kp, err
}

// looksLikeKey reports whether s is shaped like a 56-character public key.
func looksLikeKey(s string) bool {
	return len(s) == 56 && strings.IndexFunc(s, func(r rune) bool { return !(r >= 'A' && r <= 'Z' || r >= '2' && r <= '7') }) < 0
}

func newCtlLinkDelCmd(f *ctlFlags) *cobra.Command {
	var (
		linkName string
		out      outputFormat
	)
	cmd := &cobra.Command{
		Use:   "del ACTOR_ID CONTRACT_ID",
		Short: "Delete the link of an actor for a contract and link name",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := lattice.CheckPublicKey(lattice.PrefixModule, args[0]); err != nil {
				return fmt.Errorf("actor id: %w", err)
			}
			s, err := f.connect(cmd, false)
			if err != nil {
				return err
			}
			defer s.close()
			if err := s.DeleteLink(cmd.Context(), args[0], args[1], linkName); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out == outputJSON {
				return writeJSON(w, map[string]any{"accepted": true, "actor_id": args[0], "contract_id": args[1], "link_name": linkName})
			}
			fmt.Fprintf(w, "Deleted link of %s for %s, link name %s\n", args[0], args[1], linkName)
			return nil
		},
	}
	cmd.Flags().StringVarP(&linkName, "link-name", "l", lattice.DefaultLinkName, "link name")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}
