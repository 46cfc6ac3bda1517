package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-lattice/trellis/lattice/app"
)

// appWaitFlags are --wait and --timeout of `app deploy` and `app undeploy`.
type appWaitFlags struct {
	wait    bool
	timeout time.Duration
	state   string // the state waited for, for messages
}

func (w *appWaitFlags) register(cmd *cobra.Command, state string) {
	w.state = state
	cmd.Flags().BoolVar(&w.wait, "wait", false, "wait until the app's status says "+state)
	cmd.Flags().DurationVar(&w.timeout, "timeout", 2*time.Minute, "with --wait: how long to wait")
}

// until watches the apps store until done says the app's status (nil when it has none) is the
// state waited for, or fails, or --timeout passes. It returns the status it ended on. In text
// mode every new state and message goes to progress.
func (w *appWaitFlags) until(ctx context.Context, s *appSession, st *app.Store, progress io.Writer, out outputFormat, name string,
	done func(*app.Status) (bool, error)) (*app.Status, error) {
	if h, err := s.leaseHolder(ctx); err == nil && h == nil && out != outputJSON {
		fmt.Fprintf(progress, "Warning: %s; waiting anyway (until one takes it, or --timeout)\n", noReconcilerMessage)
	}
	wctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	var (
		last     *app.Status
		result   error
		finished bool
		shown    string
	)
	err := watchApp(wctx, st, name, func(ctx context.Context) bool {
		status, err := st.Status(ctx, name)
		switch {
		case errors.Is(err, app.ErrNotFound):
			status = nil
		case err != nil:
			if ctx.Err() != nil {
				return false // timed out: the watch ends
			}
			result, finished = err, true
			return true
		}
		if status != nil {
			last = status
			if line := stateLine(status.State, status.Message); out != outputJSON && line != shown {
				shown = line
				fmt.Fprintf(progress, "  %s\n", line)
			}
		}
		ok, err := done(status)
		if ok || err != nil {
			result, finished = err, true
		}
		return finished
	})
	if finished {
		return last, result
	}
	if err != nil {
		return last, err
	}
	if ctx.Err() != nil {
		return last, fmt.Errorf("app %s: stopped waiting for %s: %w", name, w.state, ctx.Err())
	}
	msg := "it has no status yet"
	if last != nil {
		msg = "last status: " + stateLine(last.State, last.Message)
		if last.Version != "" {
			msg += " (version " + last.Version + ")"
		}
	}
	err = fmt.Errorf("app %s: not %s after %s; %s", name, w.state, w.timeout, msg)
	if h, herr := s.leaseHolder(ctx); herr == nil && h == nil {
		err = fmt.Errorf("%w; %s", err, noReconcilerMessage)
	}
	return last, err
}

// watchApp calls check once the store's current state is replayed, then again on every change
// of the app (its record or its status: the change of a deleted key cannot say which it was),
// until check says it is done or ctx ends. check is given the watch's context.
func watchApp(ctx context.Context, st *app.Store, name string, check func(context.Context) (done bool)) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	synced, done := false, false
	return st.Watch(wctx, func(c app.Change) {
		switch {
		case done:
			return
		case c.Synced:
			synced = true
		case !synced || c.Name != name:
			return
		}
		if done = check(wctx); done {
			cancel()
		}
	})
}

// deployedOf is what `app deploy --wait` waits for: a status of version v of the app that says
// deployed (done) or failed (the error).
func deployedOf(name, v string) func(*app.Status) (bool, error) {
	return func(st *app.Status) (bool, error) {
		switch {
		case st == nil || st.Version != v:
			return false, nil
		case st.State == app.StateFailed:
			return false, fmt.Errorf("app %s version %s failed: %s", name, v, st.Message)
		}
		return st.State == app.StateDeployed, nil
	}
}

// undeployedOf is what `app undeploy --wait` waits for: a status of no version that says
// undeployed with nothing running, or no status at all (the reconciler removed it: nothing is
// left); failed is the error.
func undeployedOf(name string) func(*app.Status) (bool, error) {
	return func(st *app.Status) (bool, error) {
		switch {
		case st == nil:
			return true, nil
		case st.Version != "":
			return false, nil // the reconciler has not seen the undeploy yet
		case st.State == app.StateFailed:
			return false, fmt.Errorf("undeploy app %s failed: %s", name, st.Message)
		}
		return st.State == app.StateUndeployed && nothingRuns(st), nil
	}
}

// nothingRuns reports whether no component of the status has anything running.
func nothingRuns(st *app.Status) bool {
	for _, c := range st.Components {
		if c.Actual != 0 {
			return false
		}
	}
	return true
}
