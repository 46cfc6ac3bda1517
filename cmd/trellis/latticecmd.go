package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/trellis-lattice/trellis/lattice"
)

// `trellis lattice` shows and changes where the lattice's JetStream state is kept: its buckets
// (lattice.Subjects.Buckets) and their replicas.

func newLatticeCmd() *cobra.Command {
	f := &ctlFlags{}
	cmd := &cobra.Command{
		Use:   "lattice",
		Short: "The lattice's JetStream buckets: their replicas and leaders, and raising their replicas",
		Long: `Show the JetStream buckets that hold the lattice's state (links, claims and refmaps; apps; the
reconciler lease; large payloads), how many copies of each the NATS servers keep and which server
leads each, and raise their replicas once the lattice runs on a NATS cluster. Connects like
` + "`trellis ctl`" + `: --nats-url, --lattice, --js-domain.`,
	}
	f.register(cmd.PersistentFlags())
	_ = cmd.PersistentFlags().MarkHidden("cluster-seed")
	cmd.AddCommand(newLatticeStatusCmd(f), newLatticeReplicasCmd(f))
	return cmd
}

// jetStream connects like ctl does, with a JetStream context in --js-domain whose requests time
// out after --ctl-timeout.
func (f *ctlFlags) jetStream(cmd *cobra.Command) (*ctlSession, jetstream.JetStream, error) {
	s, err := f.connect(cmd, false)
	if err != nil {
		return nil, nil, err
	}
	js, err := lattice.NewJetStream(s.nc, f.jsDomain, jetstream.WithDefaultTimeout(time.Duration(f.timeout)))
	if err != nil {
		s.close()
		return nil, nil, fmt.Errorf("jetstream on %s: %w", s.url, err)
	}
	return s, js, nil
}

func newLatticeStatusCmd(f *ctlFlags) *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "status",
		Short: "List the lattice's JetStream buckets with their replicas, leader and current copies",
		Long: `List the lattice's JetStream buckets: kind, replicas, the NATS cluster and the server leading
each, and how many copies are current. A bucket with fewer replicas than --js-replicas (the
hosts' setting, TRELLIS_JS_REPLICAS) gets a warning with the command that raises it; a bucket not
created yet is listed as such (the hosts and the reconciler create them).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := lattice.CheckReplicas(f.jsReplicas); err != nil {
				return fmt.Errorf("--js-replicas: %w", err)
			}
			s, js, err := f.jetStream(cmd)
			if err != nil {
				return err
			}
			defer s.close()
			states, err := lattice.BucketStates(cmd.Context(), js, s.Lattice())
			if err != nil {
				return jetStreamHint(err, s.url)
			}
			if out == outputJSON {
				return writeJSON(cmd.OutOrStdout(), states)
			}
			return writeBucketStates(cmd.OutOrStdout(), states, f.jsReplicas)
		},
	}
	f.registerReplicas(cmd.Flags(), "replicas the buckets should have: those with fewer are flagged")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func writeBucketStates(w io.Writer, states []lattice.BucketState, want int) error {
	t := newTable(w, "BUCKET", "KIND", "REPLICAS", "CURRENT", "LEADER", "PEERS", "HOLDS")
	var low []string
	for _, st := range states {
		if !st.Exists {
			t.row(st.Name, st.Kind, "not created", "", "", "", st.Holds)
			continue
		}
		var peers []string
		for _, p := range st.Peers {
			state := "current"
			switch {
			case p.Offline:
				state = "offline"
			case !p.Current:
				state = "behind " + strconv.FormatUint(p.Lag, 10)
			}
			peers = append(peers, p.Name+" ("+state+")")
		}
		t.row(st.Name, st.Kind, strconv.Itoa(st.Replicas), fmt.Sprintf("%d/%d", st.Current, st.Replicas), st.Leader, strings.Join(peers, ", "), st.Holds)
		if st.Below(want) {
			low = append(low, fmt.Sprintf("%s has %d", st.Name, st.Replicas))
		}
	}
	if err := t.flush(); err != nil {
		return err
	}
	if len(low) > 0 {
		_, err := fmt.Fprintf(w, "\nWarning: fewer replicas than %d (--js-replicas): %s; raise them with `trellis lattice replicas %d`.\n",
			want, strings.Join(low, ", "), want)
		return err
	}
	return nil
}

func newLatticeReplicasCmd(f *ctlFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "replicas N",
		Short: "Raise the replicas of every lattice bucket that has fewer than N",
		Long: `Raise the replicas of each of the lattice's JetStream buckets that has fewer than N to N (an
update of its stream: JetStream copies the data to the new servers while the lattice keeps
serving). Replicas are never lowered: a bucket with N or more is left as it is. The NATS cluster
needs N JetStream servers. Buckets not created yet are skipped: give the hosts --js-replicas N so
that they create them with N. ` + "`trellis lattice status`" + ` shows the copies catching up.`,
		Example: "  trellis lattice replicas 3 --nats-url nats://nats-0:4222,nats://nats-1:4222,nats://nats-2:4222",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[0])
			if err != nil {
				return fmt.Errorf("replicas %q: want a number from 1 to %d", args[0], lattice.MaxReplicas)
			}
			if err := lattice.CheckReplicas(n); err != nil {
				return err
			}
			s, js, err := f.jetStream(cmd)
			if err != nil {
				return err
			}
			defer s.close()
			w := cmd.OutOrStdout()
			var errs []error
			for _, b := range lattice.NewSubjects(s.Lattice()).Buckets() {
				had, err := lattice.RaiseReplicas(cmd.Context(), js, b, n)
				switch {
				case errors.Is(err, lattice.ErrBucketNotFound):
					fmt.Fprintf(w, "%s: not created yet (skipped)\n", b.Name)
				case err != nil:
					fmt.Fprintf(w, "%s: not raised: %v\n", b.Name, err)
					errs = append(errs, err)
				case had >= n:
					fmt.Fprintf(w, "%s: has %d replicas already\n", b.Name, had)
				default:
					fmt.Fprintf(w, "%s: raised from %d to %d replicas\n", b.Name, had, n)
				}
			}
			if len(errs) > 0 {
				return jetStreamHint(errors.Join(errs...), s.url)
			}
			return nil
		},
	}
	return cmd
}

// jetStreamHint explains the usual reason JetStream does not answer.
func jetStreamHint(err error, url string) error {
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (does the NATS server at %s run JetStream, in --js-domain if it has one?)", err, url)
	}
	return err
}
