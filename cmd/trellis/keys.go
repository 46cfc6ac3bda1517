package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trellis-lattice/trellis/lattice"
)

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Make and list nkeys (account, cluster, module, server, service, operator, user)",
	}
	cmd.AddCommand(newKeysGenCmd(), newKeysListCmd(), newKeysGetCmd())
	return cmd
}

func newKeysGenCmd() *cobra.Command {
	var (
		name string
		out  outputFormat
	)
	cmd := &cobra.Command{
		Use:   "gen KIND",
		Short: "Generate a key pair and print its public key and seed",
		Long: `Generate a key pair of KIND: account, cluster, module (actor), server (host),
service (provider), operator or user. With --name the seed is also saved in the keystore as
<name>_<kind>.nk (mode 0600).`,
		Example:   "  trellis keys gen cluster\n  trellis keys gen account --name ops -o json",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"account", "cluster", "module", "server", "service", "operator", "user"},
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, err := lattice.ParseKeyPrefix(args[0])
			if err != nil {
				return err
			}
			kp, err := lattice.CreateKeyPair(kind)
			if err != nil {
				return err
			}
			seed, err := kp.Seed()
			if err != nil {
				return err
			}
			var path string
			if name != "" {
				ks, err := defaultKeyStore()
				if err != nil {
					return err
				}
				if path, err = ks.save(name, kp); err != nil {
					return err
				}
			}
			w := cmd.OutOrStdout()
			if out == outputJSON {
				return writeJSON(w, map[string]string{
					"kind": kind.String(), "public_key": kp.PublicKey(), "seed": seed, "path": path,
				})
			}
			fmt.Fprintf(w, "Public Key: %s\nSeed: %s\n", kp.PublicKey(), seed)
			if path != "" {
				fmt.Fprintf(w, "Saved to: %s\n", path)
			}
			fmt.Fprintln(w, "\nRemember that the seed is private, treat it as a secret.")
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "save the seed in the keystore as <name>_<kind>.nk")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func newKeysListCmd() *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the keys in the keystore (public keys only)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ks, err := defaultKeyStore()
			if err != nil {
				return err
			}
			keys, err := ks.list()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out == outputJSON {
				if keys == nil {
					keys = []storedKey{}
				}
				return writeJSON(w, map[string]any{"dir": ks.dir, "keys": keys})
			}
			if len(keys) == 0 {
				fmt.Fprintf(w, "No keys in %s\n", ks.dir)
				return nil
			}
			fmt.Fprintf(w, "Keys in %s\n\n", ks.dir)
			t := newTable(w, "FILE", "KIND", "PUBLIC KEY")
			for _, k := range keys {
				pk := k.PublicKey
				if k.Problem != "" {
					pk = "unreadable: " + k.Problem
				}
				t.row(k.File, k.Kind, pk)
			}
			return t.flush()
		},
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}
