package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/lattice"
)

// waitFlags control waiting for the event that tells how a command ended.
type waitFlags struct {
	timeout  time.Duration
	skipWait bool
	what     string        // the event waited for, for messages
	progress *pullProgress // shows a start's image_pull_progress events; nil for other commands
}

func (w *waitFlags) register(cmd *cobra.Command, what string) {
	w.what = what
	cmd.Flags().DurationVar(&w.timeout, "timeout", 30*time.Second, "how long to wait for the "+what+" event")
	withEnvNames(cmd.Flags(), "timeout", "TRELLIS_WAIT_TIMEOUT")
	cmd.Flags().BoolVar(&w.skipWait, "skip-wait", false, "return once a host accepted the command, without waiting for the "+what+" event")
}

// commandResult is what start/stop/scale print with -o json.
type commandResult struct {
	Accepted bool   `json:"accepted"`
	HostID   string `json:"host_id"`
	Ref      string `json:"ref,omitempty"`
	ID       string `json:"id,omitempty"`
	Waited   bool   `json:"waited"`
	Event    string `json:"event,omitempty"`
}

func newCtlStartCmd(f *ctlFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "start", Short: "Start an actor or a provider on a host"}
	cmd.AddCommand(newCtlStartActorCmd(f), newCtlStartProviderCmd(f))
	return cmd
}

func newCtlStopCmd(f *ctlFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "stop", Short: "Stop an actor, a provider or a host"}
	cmd.AddCommand(newCtlStopActorCmd(f), newCtlStopProviderCmd(f), newCtlStopHostCmd(f))
	return cmd
}

func newCtlScaleCmd(f *ctlFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "scale", Short: "Set the number of instances of an actor on a host"}
	cmd.AddCommand(newCtlScaleActorCmd(f))
	return cmd
}

// localRef turns a reference naming an existing local file into an absolute path, so a host
// started elsewhere on this machine finds it. Anything else (an OCI reference) is left as is.
func localRef(ref string) string {
	if st, err := os.Stat(ref); err == nil && st.Mode().IsRegular() {
		if abs, err := filepath.Abs(ref); err == nil {
			return abs
		}
	}
	return ref
}

func checkCount(count int) (uint16, error) {
	if count < 0 || count > math.MaxUint16 {
		return 0, fmt.Errorf("--count %d: want 0-%d", count, math.MaxUint16)
	}
	return uint16(count), nil
}

// argsError says which arguments a command takes in the form args were recognised as.
func argsError(cmd *cobra.Command, wash bool, washArgs, ours string) error {
	if wash {
		return fmt.Errorf("wash's form (the host first) takes %s; usage: %s (see `%s --help`)", washArgs, cmd.UseLine(), cmd.CommandPath())
	}
	return fmt.Errorf("takes %s; usage: %s (see `%s --help`)", ours, cmd.UseLine(), cmd.CommandPath())
}

// washForm reports whether args are in wash 0.x's form, whose first argument is the host
// (an N… public key: no actor, provider or reference looks like one), and returns the arguments
// after it with the host to act on. A --host-id naming another host is an error.
func washForm(args []string, hostID *string) ([]string, bool, error) {
	if len(args) == 0 || lattice.CheckPublicKey(lattice.PrefixServer, args[0]) != nil {
		return args, false, nil
	}
	if *hostID != "" && *hostID != args[0] {
		return nil, true, fmt.Errorf("host %s given twice: as the first argument (wash's form) and as --host-id %s", args[0], *hostID)
	}
	*hostID = args[0]
	return args[1:], true, nil
}

// instanceLimitFlags are the min and max live wasm instances of an actor (Trellis extensions of
// la and scale): unset flags leave the host's current values.
type instanceLimitFlags struct {
	minName, maxName string
	min, max         int
	cmd              *cobra.Command
}

func (l *instanceLimitFlags) register(cmd *cobra.Command, minName, maxName string) {
	l.cmd, l.minName, l.maxName = cmd, minName, maxName
	cmd.Flags().IntVar(&l.min, minName, 0, "fewest live wasm instances the host's --actor-idle-timeout leaves open (default 0: the actor may sit at zero instances)")
	cmd.Flags().IntVar(&l.max, maxName, 0, "most live wasm instances, i.e. concurrent calls, on the host (default: the count)")
}

func (l *instanceLimitFlags) set() bool {
	return l.cmd.Flags().Changed(l.minName) || l.cmd.Flags().Changed(l.maxName)
}

// values returns the flags given, checked: nil for a flag not given.
func (l *instanceLimitFlags) values() (least, most *uint16, err error) {
	if l.cmd.Flags().Changed(l.minName) {
		if l.min < 0 || l.min > math.MaxUint16 {
			return nil, nil, fmt.Errorf("--%s %d: want 0-%d", l.minName, l.min, math.MaxUint16)
		}
		n := uint16(l.min)
		least = &n
	}
	if l.cmd.Flags().Changed(l.maxName) {
		if l.max < 1 || l.max > math.MaxUint16 {
			return nil, nil, fmt.Errorf("--%s %d: want 1-%d", l.maxName, l.max, math.MaxUint16)
		}
		n := uint16(l.max)
		most = &n
	}
	if least != nil && most != nil && *least > *most {
		return nil, nil, fmt.Errorf("--%s %d is above --%s %d", l.minName, *least, l.maxName, *most)
	}
	return least, most, nil
}

func newCtlStartActorCmd(f *ctlFlags) *cobra.Command {
	var (
		place    placeFlags
		lim      instanceLimitFlags
		count    int
		memPages uint32
		wait     waitFlags
		out      outputFormat
	)
	cmd := &cobra.Command{
		Use:   "actor REF",
		Short: "Start an actor from an OCI reference or (when the host allows it) a file path",
		Long: `Start COUNT instances of the actor at REF on a host and wait until the host reports
actor_started (or actor_start_failed), showing the host's progress while it pulls REF from its
registry. Without --host-id the host is chosen by an auction among the hosts whose labels match
every --constraint, as wash does; a local file without constraints goes to the lattice's only host.
A REF naming an existing local file is sent as an absolute path.`,
		Example: "  trellis ctl start actor build/actors/echo_s.wasm\n  trellis ctl start actor registry.example:5000/echo:0.1.0 --constraint zone=eu --count 4",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := checkCount(count)
			if err != nil {
				return err
			}
			if n == 0 {
				return errors.New("--count 0: start at least one instance")
			}
			least, most, err := lim.values()
			if err != nil {
				return err
			}
			ref := localRef(args[0])
			s, err := f.connect(cmd, false)
			if err != nil {
				return err
			}
			defer s.close()
			ctx := cmd.Context()
			host, err := place.place(ctx, s, ref, false, "")
			if err != nil {
				return err
			}
			res := commandResult{HostID: host, Ref: ref}
			wait.progress = newPullProgress(cmd.ErrOrStderr())
			outcome := lattice.ActorStart(host, ref)
			match := func(e lattice.CloudEvent) bool { return outcome.Match(e) || matchProgress(e, host, ref) }
			err = runCommand(ctx, s, &wait, match, func() error {
				return s.StartActor(ctx, lattice.StartActorCommand{ActorRef: ref, HostID: host, Count: n, Annotations: memoryAnnotation(memPages),
					MinInstances: least, MaxInstances: most})
			}, &res, func(e lattice.CloudEvent) error {
				o, _ := outcome(e)
				if o.Failed {
					return fmt.Errorf("start actor %s on host %s failed: %s", ref, host, o.Error)
				}
				res.ID = o.PublicKey
				return nil
			})
			if err != nil {
				return err
			}
			return printResult(cmd, out, res, func() string {
				if !res.Waited {
					return fmt.Sprintf("Host %s accepted to start actor %s (not waiting for it to start)", host, ref)
				}
				return fmt.Sprintf("Actor %s (%s) started on host %s", res.ID, ref, host)
			})
		},
	}
	place.register(cmd)
	cmd.Flags().IntVar(&count, "count", 1, "number of instances")
	lim.register(cmd, "min-instances", "max-instances")
	cmd.Flags().Uint32Var(&memPages, "max-memory-pages", 0, "memory limit of each instance in 64 KiB wasm pages, at most the host's --max-actor-memory-pages (0: the host's); sent as the annotation "+host.MemoryPagesAnnotation)
	wait.register(cmd, "actor_started")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

// runCommand sends a command and, unless told not to, waits for the event that tells how it
// ended; outcome turns that event into the command's error (nil for success).
func runCommand(ctx context.Context, s *ctlSession, wait *waitFlags, match func(lattice.CloudEvent) bool,
	send func() error, res *commandResult, outcome func(lattice.CloudEvent) error) error {
	var w *lattice.Waiter
	if !wait.skipWait {
		var err error
		if w, err = s.NewWaiter(match); err != nil {
			return err
		}
		defer w.Stop() //nolint:errcheck // done with the events either way
	}
	if err := send(); err != nil {
		return err
	}
	res.Accepted = true
	if wait.skipWait {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, wait.timeout)
	defer cancel()
	for {
		e, err := w.Wait(wctx)
		if err != nil {
			wait.progress.end()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return wait.timeoutError(res)
		}
		if err != nil {
			return err
		}
		if e.Name() == lattice.EventImagePullProgress {
			if wait.progress != nil {
				wait.progress.show(e)
			}
			continue
		}
		wait.progress.end()
		res.Waited = true
		res.Event = e.Name()
		return outcome(e)
	}
}

// timeoutError says what the command waited for, and how far a pull got.
func (w *waitFlags) timeoutError(res *commandResult) error {
	subject := res.Ref
	if subject == "" {
		subject = res.ID
	}
	msg := fmt.Sprintf("host %s accepted the command but reported no outcome (%s or failure) for %s within %s", res.HostID, w.what, subject, w.timeout)
	if w.progress != nil {
		msg += " (" + w.progress.status() + "; the host may still be pulling)"
	}
	return fmt.Errorf("%s: raise --timeout, or check `trellis ctl get inventory %s`", msg, res.HostID)
}

func printResult(cmd *cobra.Command, out outputFormat, res commandResult, text func() string) error {
	if out == outputJSON {
		return writeJSON(cmd.OutOrStdout(), res)
	}
	fmt.Fprintln(cmd.OutOrStdout(), text())
	return nil
}

// hostsRunning returns the hosts that run the actor, with their inventories' image ref.
func hostsRunning(ctx context.Context, s *ctlSession, actorID string) (map[string]string, error) {
	hosts, err := s.hosts(ctx)
	if err != nil {
		return nil, err
	}
	if len(hosts) == 0 {
		return nil, noHostsError(s)
	}
	found := map[string]string{}
	for _, h := range hosts {
		inv, err := s.GetInventory(ctx, h.ID)
		if err != nil {
			return nil, err
		}
		for _, a := range inv.Actors {
			if a.ID == actorID {
				found[h.ID] = a.ImageRef
			}
		}
	}
	return found, nil
}

// actorHost picks the host to act on for an actor: --host-id, else the only host running it.
func actorHost(ctx context.Context, s *ctlSession, actorID, hostID, what string) (string, error) {
	if hostID != "" {
		if err := lattice.CheckPublicKey(lattice.PrefixServer, hostID); err != nil {
			return "", fmt.Errorf("--host-id: %w", err)
		}
		return hostID, nil
	}
	running, err := hostsRunning(ctx, s, actorID)
	if err != nil {
		return "", err
	}
	return onlyHost(s, running, actorID, what)
}

// onlyHost returns the one host in running, or an error saying there is none or listing them.
func onlyHost(s *ctlSession, running map[string]string, actorID, what string) (string, error) {
	switch len(running) {
	case 0:
		return "", notRunningError(s, what)
	case 1:
		for h := range running {
			return h, nil
		}
	}
	ids := make([]string, 0, len(running))
	for h := range running {
		ids = append(ids, "  "+h)
	}
	slices.Sort(ids)
	return "", fmt.Errorf("%s: %d hosts run actor %s; pick one with --host-id:\n%s", what, len(running), actorID, strings.Join(ids, "\n"))
}

// notRunningError says no host of the lattice runs the actor that what ("stop actor ID") names.
func notRunningError(s *ctlSession, what string) error {
	return fmt.Errorf("%s: no host of lattice %s runs it (see `trellis ctl get inventory`)", what, s.Lattice())
}

func newCtlStopActorCmd(f *ctlFlags) *cobra.Command {
	var (
		hostID string
		count  int
		wait   waitFlags
		out    outputFormat
	)
	cmd := &cobra.Command{
		Use:   "actor [HOST_ID] ACTOR_ID",
		Short: "Stop instances of an actor (all of them by default)",
		Long: `Stop instances of the actor on the host that runs it (--host-id when several do). wash's
form, with the host first (` + "`ctl stop actor HOST_ID ACTOR_ID`" + `), is accepted too.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			args, wash, err := washForm(args, &hostID)
			if err != nil {
				return err
			}
			if len(args) != 1 {
				return argsError(cmd, wash, "HOST_ID ACTOR_ID", "ACTOR_ID")
			}
			actor := args[0]
			if err := lattice.CheckPublicKey(lattice.PrefixModule, actor); err != nil {
				return fmt.Errorf("actor id: %w", err)
			}
			n, err := checkCount(count)
			if err != nil {
				return err
			}
			s, err := f.connect(cmd, false)
			if err != nil {
				return err
			}
			defer s.close()
			ctx := cmd.Context()
			host, err := actorHost(ctx, s, actor, hostID, "stop actor "+actor)
			if err != nil {
				return err
			}
			res := commandResult{HostID: host, ID: actor}
			match := func(e lattice.CloudEvent) bool {
				var d lattice.ActorStoppedData
				return e.Source == host && e.Name() == lattice.EventActorStopped && e.DecodeData(&d) == nil && d.PublicKey == actor
			}
			err = runCommand(ctx, s, &wait, match, func() error {
				return s.StopActor(ctx, lattice.StopActorCommand{ActorRef: actor, HostID: host, Count: n})
			}, &res, func(lattice.CloudEvent) error { return nil })
			if err != nil {
				return err
			}
			return printResult(cmd, out, res, func() string {
				if !res.Waited {
					return fmt.Sprintf("Host %s accepted to stop actor %s", host, actor)
				}
				return fmt.Sprintf("Actor %s stopped on host %s", actor, host)
			})
		},
	}
	cmd.Flags().StringVar(&hostID, "host-id", "", "host to stop it on (default: the only host running it)")
	cmd.Flags().IntVar(&count, "count", 0, "number of instances to stop (0: all)")
	wait.register(cmd, "actor_stopped")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func newCtlScaleActorCmd(f *ctlFlags) *cobra.Command {
	var (
		hostID         string
		count          int
		annotationArgs []string
		lim            instanceLimitFlags
		out            outputFormat
	)
	cmd := &cobra.Command{
		Use:   "actor [HOST_ID] ACTOR_ID [REF]",
		Short: "Run exactly --count instances of an actor on a host",
		Long: `Ask a host to run exactly --count instances of the actor. REF defaults to the image
reference the host's inventory shows for the actor. The host's events report the instances it
starts or stops. wash's form, with the host first (` + "`ctl scale actor HOST_ID ACTOR_ID REF --count N`" + `),
is accepted too; -a KEY=VALUE adds annotations to the command.

The count is the actor's instances in the inventory (what wash and app manifests count). The
live wasm instances come and go on demand: at most --max (default: the count) serve calls at
once, and those idle for the host's --actor-idle-timeout are closed down to --min (default 0).
With --min or --max and no --count, only those limits change.`,
		Example: "  trellis ctl scale actor MB... --count 3\n  trellis ctl scale actor MB... --max 8 --min 1",
		Args:    cobra.RangeArgs(1, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			args, wash, err := washForm(args, &hostID)
			if err != nil {
				return err
			}
			if len(args) < 1 || len(args) > 2 {
				return argsError(cmd, wash, "HOST_ID ACTOR_ID REF", "ACTOR_ID [REF]")
			}
			actor := args[0]
			if err := lattice.CheckPublicKey(lattice.PrefixModule, actor); err != nil {
				return fmt.Errorf("actor id: %w", err)
			}
			if !cmd.Flags().Changed("count") && !lim.set() {
				return errors.New("--count is required (or --min/--max to change only the instance limits)")
			}
			n, err := checkCount(count)
			if err != nil {
				return err
			}
			annotations, err := parseKeyValues("annotation", cleanList(annotationArgs))
			if err != nil {
				return err
			}
			least, most, err := lim.values()
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("count") {
				n = 0 // with limits: the host keeps the count
			} else if n == 0 && lim.set() {
				return errors.New("--count 0 stops the actor: give --min/--max without it to change only the limits")
			}
			s, err := f.connect(cmd, false)
			if err != nil {
				return err
			}
			defer s.close()
			ctx := cmd.Context()
			var ref string
			if len(args) == 2 {
				ref = localRef(args[1])
			}
			if hostID == "" || ref == "" {
				running, err := hostsRunning(ctx, s, actor)
				if err != nil {
					return err
				}
				if hostID == "" {
					if hostID, err = onlyHost(s, running, actor, "scale actor "+actor); err != nil {
						return err
					}
				} else if err := lattice.CheckPublicKey(lattice.PrefixServer, hostID); err != nil {
					return fmt.Errorf("--host-id: %w", err)
				}
				if ref == "" {
					ref = running[hostID]
				}
				if ref == "" {
					return fmt.Errorf("scale actor %s: host %s does not run it, so give its REF", actor, hostID)
				}
			}
			cmdAnnotations := annotations
			if len(cmdAnnotations) == 0 {
				cmdAnnotations = nil
			}
			err = s.ScaleActor(ctx, lattice.ScaleActorCommand{ActorID: actor, ActorRef: ref, Count: n, HostID: hostID, Annotations: cmdAnnotations,
				MinInstances: least, MaxInstances: most})
			if err != nil {
				return err
			}
			res := commandResult{Accepted: true, HostID: hostID, ID: actor, Ref: ref}
			return printResult(cmd, out, res, func() string {
				msg := fmt.Sprintf("Host %s accepted to scale actor %s to %d instances", hostID, actor, n)
				if n == 0 {
					msg = fmt.Sprintf("Host %s accepted to set the instance limits of actor %s", hostID, actor)
				}
				return msg + limitsText(least, most)
			})
		},
	}
	cmd.Flags().StringVar(&hostID, "host-id", "", "host to scale on (default: the only host running it)")
	cmd.Flags().IntVar(&count, "count", 1, "number of instances to run (required unless --min or --max is given; wash's --max-concurrent is accepted too)")
	cmd.Flags().StringSliceVarP(&annotationArgs, "annotations", "a", nil, "KEY=VALUE annotations of the scale command (repeatable)")
	lim.register(cmd, "min", "max")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func newCtlUpdateCmd(f *ctlFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "update", Short: "Replace a running actor's module with a higher revision"}
	cmd.AddCommand(newCtlUpdateActorCmd(f))
	return cmd
}

// updateResult is how one host ended `ctl update actor`.
type updateResult struct {
	commandResult
	// Revision runs now; PreviousRevision ran before (equal: the module already ran). 0 when the
	// host did not say.
	Revision         int    `json:"revision,omitempty"`
	PreviousRevision int    `json:"previous_revision,omitempty"`
	Error            string `json:"error,omitempty"`
	// Skipped: not tried, because an earlier host failed.
	Skipped bool `json:"skipped,omitempty"`
}

// updateReport is what `ctl update actor -o json` prints.
type updateReport struct {
	ActorID string         `json:"actor_id"`
	Ref     string         `json:"ref"`
	Hosts   []updateResult `json:"hosts"`
}

func newCtlUpdateActorCmd(f *ctlFlags) *cobra.Command {
	var (
		hostID string
		wait   waitFlags
		out    outputFormat
	)
	cmd := &cobra.Command{
		Use:   "actor [HOST_ID] ACTOR_ID NEW_REF",
		Short: "Replace an actor's module with the one at NEW_REF, on every host running it",
		Long: `Replace the module of a running actor with the one at NEW_REF (upd), as wash ctl update
actor does. wasmCloud's rule applies: NEW_REF must hold the same actor (key) signed with a higher
revision; the module already running is a no-op that succeeds. Calls in flight finish on the old
revision and new ones go to the new one: none fails.

Without --host-id every host whose inventory runs the actor is updated, one after the other, each
waited for through its actor_updated (or actor_update_failed) event for up to --timeout. The first
failure ends the command: the hosts after it are left as they were (update them with --host-id).
A NEW_REF naming an existing local file is sent as an absolute path. wash's form, with the host
first (` + "`ctl update actor HOST_ID ACTOR_ID NEW_REF`" + `), is accepted too.`,
		Example: "  trellis ctl update actor MB2… registry.example:5000/echo:0.2.0\n  trellis ctl update actor MB2… build/actors/echo_s.wasm --host-id NC3…\n  trellis ctl update actor NC3… MB2… registry.example:5000/echo:0.2.0   (wash's form)",
		Args:    cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			args, wash, err := washForm(args, &hostID)
			if err != nil {
				return err
			}
			if len(args) != 2 {
				return argsError(cmd, wash, "HOST_ID ACTOR_ID NEW_REF", "ACTOR_ID NEW_REF")
			}
			actor, ref := args[0], localRef(args[1])
			if err := lattice.CheckPublicKey(lattice.PrefixModule, actor); err != nil {
				return fmt.Errorf("actor id: %w", err)
			}
			if hostID != "" {
				if err := lattice.CheckPublicKey(lattice.PrefixServer, hostID); err != nil {
					return fmt.Errorf("--host-id: %w", err)
				}
			}
			s, err := f.connect(cmd, false)
			if err != nil {
				return err
			}
			defer s.close()
			ctx := cmd.Context()
			hosts, err := updateHosts(ctx, s, actor, hostID)
			if err != nil {
				return err
			}
			report := updateReport{ActorID: actor, Ref: ref}
			var failed error
			done := 0
			for _, host := range hosts {
				res := updateResult{commandResult: commandResult{HostID: host, Ref: ref, ID: actor}}
				switch {
				case failed != nil:
					res.Skipped = true
				default:
					if err := updateOn(ctx, cmd, s, &wait, host, actor, ref, &res); err != nil {
						res.Error, failed = err.Error(), err
					} else {
						done++
					}
				}
				report.Hosts = append(report.Hosts, res)
			}
			if err := printUpdate(cmd, out, report); err != nil {
				return err
			}
			if failed != nil && len(hosts) > 1 {
				return fmt.Errorf("%w (%d of %d hosts updated; the others run what they ran)", failed, done, len(hosts))
			}
			return failed
		},
	}
	cmd.Flags().StringVar(&hostID, "host-id", "", "host to update it on (default: every host running it)")
	wait.register(cmd, "actor_updated")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

// updateHosts is --host-id (checked already), else every host whose inventory runs the actor,
// sorted.
func updateHosts(ctx context.Context, s *ctlSession, actor, hostID string) ([]string, error) {
	if hostID != "" {
		return []string{hostID}, nil
	}
	running, err := hostsRunning(ctx, s, actor)
	if err != nil {
		return nil, err
	}
	if len(running) == 0 {
		return nil, notRunningError(s, "update actor "+actor)
	}
	return slices.Sorted(maps.Keys(running)), nil
}

// updateOn sends upd to one host and waits for how it ended, into res.
func updateOn(ctx context.Context, cmd *cobra.Command, s *ctlSession, wait *waitFlags, host, actor, ref string, res *updateResult) error {
	wait.progress = newPullProgress(cmd.ErrOrStderr())
	outcome := lattice.ActorUpdate(host, actor, ref)
	match := func(e lattice.CloudEvent) bool { return outcome.Match(e) || matchProgress(e, host, ref) }
	return runCommand(ctx, s, wait, match, func() error {
		return s.UpdateActor(ctx, lattice.UpdateActorCommand{ActorID: actor, HostID: host, NewActorRef: ref})
	}, &res.commandResult, func(e lattice.CloudEvent) error {
		o, _ := outcome(e)
		res.Revision, res.PreviousRevision = o.Revision, o.PreviousRevision
		if o.Failed {
			return fmt.Errorf("update actor %s on host %s failed: %s", actor, host, strings.TrimPrefix(o.Error, "update actor "+actor+": "))
		}
		return nil
	})
}

// printUpdate prints the report: JSON, or a line for each host that was updated or skipped (the
// failure is the command's error).
func printUpdate(cmd *cobra.Command, out outputFormat, r updateReport) error {
	if out == outputJSON {
		return writeJSON(cmd.OutOrStdout(), r)
	}
	w := cmd.OutOrStdout()
	for _, h := range r.Hosts {
		switch {
		case h.Skipped:
			fmt.Fprintf(w, "Host %s: not updated (an earlier host failed)\n", h.HostID)
		case h.Error != "":
		case !h.Waited:
			fmt.Fprintf(w, "Host %s accepted to update actor %s to %s (not waiting for it)\n", h.HostID, r.ActorID, r.Ref)
		case h.PreviousRevision != 0 && h.PreviousRevision == h.Revision:
			fmt.Fprintf(w, "Host %s: actor %s already runs revision %d of %s: nothing to do\n", h.HostID, r.ActorID, h.Revision, r.Ref)
		case h.PreviousRevision != 0:
			fmt.Fprintf(w, "Host %s: actor %s updated from revision %d to %d (%s)\n", h.HostID, r.ActorID, h.PreviousRevision, h.Revision, r.Ref)
		default:
			fmt.Fprintf(w, "Host %s: actor %s updated to revision %d (%s)\n", h.HostID, r.ActorID, h.Revision, r.Ref)
		}
	}
	return nil
}

// limitsText describes the instance limits a command sets, for its message.
func limitsText(least, most *uint16) string {
	var parts []string
	if least != nil {
		parts = append(parts, fmt.Sprintf("min %d", *least))
	}
	if most != nil {
		parts = append(parts, fmt.Sprintf("max %d", *most))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (live wasm instances: " + strings.Join(parts, ", ") + ")"
}
