package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-lattice/trellis/lattice"
)

func newCtlStartProviderCmd(f *ctlFlags) *cobra.Command {
	var (
		place            placeFlags
		linkName, config string
		wait             waitFlags
		out              outputFormat
	)
	cmd := &cobra.Command{
		Use:   "provider REF [LINK_NAME]",
		Short: "Start a capability provider from an OCI reference or (when allowed) a .par.gz file",
		Long: `Start the provider at REF on a host and wait until the host reports provider_started (or
provider_start_failed), showing the host's progress while it pulls REF from its registry. Without
--host-id the host is chosen by an auction among the hosts whose labels match every --constraint
and that do not run REF with this link name yet; a local file without constraints goes to the
lattice's only host. The link name is --link-name, or the second argument as wash took it.
--config-json is a file holding the provider's configuration JSON (as wash took it) or the JSON
itself.`,
		Example: "  trellis ctl start provider registry.example:5000/httpserver:0.16.3\n  trellis ctl start provider ./httpserver.par.gz --host-id N…\n  trellis ctl start provider registry.example:5000/kvredis:0.21.0 cache --config-json redis.json",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := localRef(args[0])
			if len(args) == 2 {
				if cmd.Flags().Changed("link-name") && linkName != args[1] {
					return fmt.Errorf("link name given twice: %q as the second argument and --link-name %q", args[1], linkName)
				}
				linkName = args[1]
			}
			configText, err := configJSON(config)
			if err != nil {
				return err
			}
			s, err := f.connect(cmd, false)
			if err != nil {
				return err
			}
			defer s.close()
			ctx := cmd.Context()
			host, err := place.place(ctx, s, ref, true, linkName)
			if err != nil {
				return err
			}
			res := commandResult{HostID: host, Ref: ref}
			wait.progress = newPullProgress(cmd.ErrOrStderr())
			outcome := lattice.ProviderStart(host, ref, linkName)
			match := func(e lattice.CloudEvent) bool { return outcome.Match(e) || matchProgress(e, host, ref) }
			err = runCommand(ctx, s, &wait, match, func() error {
				return s.StartProvider(ctx, lattice.StartProviderCommand{ProviderRef: ref, LinkName: linkName, HostID: host, Configuration: configText})
			}, &res, func(e lattice.CloudEvent) error {
				o, _ := outcome(e)
				if o.Failed {
					return fmt.Errorf("start provider %s on host %s failed: %s", ref, host, o.Error)
				}
				res.ID = o.PublicKey
				return nil
			})
			if err != nil {
				return err
			}
			return printResult(cmd, out, res, func() string {
				if !res.Waited {
					return fmt.Sprintf("Host %s accepted to start provider %s (not waiting for it to start)", host, ref)
				}
				return fmt.Sprintf("Provider %s (%s, link name %s) started on host %s", res.ID, ref, linkName, host)
			})
		},
	}
	place.register(cmd)
	cmd.Flags().StringVarP(&linkName, "link-name", "l", lattice.DefaultLinkName, "link name of this provider instance")
	cmd.Flags().StringVar(&config, "config-json", "", "configuration passed to the provider: a JSON file, or the JSON text")
	wait.register(cmd, "provider_started")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func newCtlStopProviderCmd(f *ctlFlags) *cobra.Command {
	var (
		hostID, linkName string
		wait             waitFlags
		out              outputFormat
	)
	cmd := &cobra.Command{
		Use:   "provider [HOST_ID] PROVIDER_ID [LINK_NAME] CONTRACT_ID",
		Short: "Stop a capability provider",
		Long: `Stop the provider instance PROVIDER_ID with --link-name (default "default") for CONTRACT_ID,
on --host-id or the lattice's only host. wash's form is accepted too: the host first, then the
provider, its link name and the contract (` + "`ctl stop provider HOST_ID PROVIDER_ID LINK_NAME CONTRACT_ID`" + `).`,
		Args: cobra.RangeArgs(2, 4),
		RunE: func(cmd *cobra.Command, args []string) error {
			args, wash, err := washForm(args, &hostID)
			if err != nil {
				return err
			}
			switch {
			case wash && len(args) == 3:
				if cmd.Flags().Changed("link-name") && linkName != args[1] {
					return fmt.Errorf("link name given twice: %q as an argument and --link-name %q", args[1], linkName)
				}
				linkName, args = args[1], []string{args[0], args[2]}
			case wash:
				return argsError(cmd, true, "HOST_ID PROVIDER_ID LINK_NAME CONTRACT_ID", "")
			case len(args) != 2:
				return argsError(cmd, false, "", "PROVIDER_ID CONTRACT_ID")
			}
			provider, contract := args[0], args[1]
			if err := lattice.CheckPublicKey(lattice.PrefixService, provider); err != nil {
				return fmt.Errorf("provider id: %w", err)
			}
			s, err := f.connect(cmd, false)
			if err != nil {
				return err
			}
			defer s.close()
			ctx := cmd.Context()
			host, err := chooseHost(ctx, s, hostID, "stop provider "+provider)
			if err != nil {
				return err
			}
			res := commandResult{HostID: host, ID: provider}
			match := func(e lattice.CloudEvent) bool {
				var d lattice.ProviderStoppedData
				return e.Source == host && e.Name() == lattice.EventProviderStopped && e.DecodeData(&d) == nil &&
					d.PublicKey == provider && d.LinkName == linkName
			}
			err = runCommand(ctx, s, &wait, match, func() error {
				return s.StopProvider(ctx, lattice.StopProviderCommand{ProviderRef: provider, LinkName: linkName, ContractID: contract, HostID: host})
			}, &res, func(lattice.CloudEvent) error { return nil })
			if err != nil {
				return err
			}
			return printResult(cmd, out, res, func() string {
				if !res.Waited {
					return fmt.Sprintf("Host %s accepted to stop provider %s", host, provider)
				}
				return fmt.Sprintf("Provider %s (link name %s) stopped on host %s", provider, linkName, host)
			})
		},
	}
	cmd.Flags().StringVar(&hostID, "host-id", "", "host to stop it on (default: the lattice's only host)")
	cmd.Flags().StringVarP(&linkName, "link-name", "l", lattice.DefaultLinkName, "link name of the provider instance")
	wait.register(cmd, "provider_stopped")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

// configJSON is a --config-json value as the provider gets it: the content of the file it names,
// or the value itself; either must be JSON.
func configJSON(value string) (string, error) {
	if strings.TrimSpace(value) == "" {
		return value, nil
	}
	text, from := value, ""
	if st, err := os.Stat(value); err == nil && st.Mode().IsRegular() {
		b, err := os.ReadFile(value)
		if err != nil {
			return "", fmt.Errorf("--config-json: %w", err)
		}
		text, from = string(b), "file "+value
	}
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		if from == "" {
			return "", fmt.Errorf("--config-json: neither an existing file nor valid JSON: %w", err)
		}
		return "", fmt.Errorf("--config-json: %s is not valid JSON: %w", from, err)
	}
	return text, nil
}

func newCtlStopHostCmd(f *ctlFlags) *cobra.Command {
	var (
		grace millis
		out   outputFormat
	)
	cmd := &cobra.Command{
		Use:   "host HOST_ID",
		Short: "Ask a host to stop what it runs and shut down",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := f.connect(cmd, false)
			if err != nil {
				return err
			}
			defer s.close()
			if err := s.StopHost(cmd.Context(), args[0], time.Duration(grace)); err != nil {
				return err
			}
			return printResult(cmd, out, commandResult{Accepted: true, HostID: args[0]}, func() string {
				return fmt.Sprintf("Host %s is stopping", args[0])
			})
		},
	}
	cmd.Flags().Var(&grace, "host-timeout", "time the host has to stop what it runs (duration or milliseconds, as wash took it; 0: its default)")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}
