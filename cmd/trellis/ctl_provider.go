package main

import (
	"fmt"
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
		Use:   "provider REF",
		Short: "Start a capability provider from an OCI reference or (when allowed) a .par.gz file",
		Long: `Start the provider at REF on a host and wait until the host reports provider_started (or
provider_start_failed), showing the host's progress while it pulls REF from its registry. Without
--host-id the host is chosen by an auction among the hosts whose labels match every --constraint
and that do not run REF with this link name yet; a local file without constraints goes to the
lattice's only host.`,
		Example: "  trellis ctl start provider registry.example:5000/httpserver:0.16.3\n  trellis ctl start provider ./httpserver.par.gz --host-id N…",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := localRef(args[0])
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
				return s.StartProvider(ctx, lattice.StartProviderCommand{ProviderRef: ref, LinkName: linkName, HostID: host, Configuration: config})
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
	cmd.Flags().StringVar(&config, "config-json", "", "configuration JSON passed to the provider")
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
		Use:   "provider PROVIDER_ID CONTRACT_ID",
		Short: "Stop a capability provider",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
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

func newCtlStopHostCmd(f *ctlFlags) *cobra.Command {
	var (
		grace time.Duration
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
			if err := s.StopHost(cmd.Context(), args[0], grace); err != nil {
				return err
			}
			return printResult(cmd, out, commandResult{Accepted: true, HostID: args[0]}, func() string {
				return fmt.Sprintf("Host %s is stopping", args[0])
			})
		},
	}
	cmd.Flags().DurationVar(&grace, "host-timeout", 0, "time the host has to stop what it runs (0: its default)")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}
