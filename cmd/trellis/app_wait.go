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
}

func (w *appWaitFlags) register(cmd *cobra.Command, state string) {
	cmd.Flags().BoolVar(&w.wait, "wait", false, "wait until the app's status says "+state)
	cmd.Flags().DurationVar(&w.timeout, "timeout", 2*time.Minute, "with --wait: how long to wait")
}

// waitForApp watches the apps store until done says the app's status (nil when it has none) is
// what the caller waits for, or fails, or timeout passes. It returns the status it ended on. In
// text mode every new state and message goes to progress.
func waitForApp(ctx context.Context, s *appSession, st *app.Store, progress io.Writer, out outputFormat, name string,
	timeout time.Duration, what string, done func(*app.Status) (bool, error)) (*app.Status, error) {
	if _, held, err := app.CurrentHolder(ctx, s.js, s.Lattice()); err == nil && !held && out != outputJSON {
		fmt.Fprintf(progress, "Warning: %s; waiting anyway (until one takes it, or --timeout)\n", noReconcilerMessage)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		last     *app.Status
		result   error
		finished bool
		synced   bool
		shown    string
	)
	check := func() {
		status, err := st.Status(wctx, name)
		switch {
		case errors.Is(err, app.ErrNotFound):
			status = nil
		case err != nil:
			if wctx.Err() == nil {
				result, finished = err, true
				cancel()
			}
			return
		}
		if status != nil {
			last = status
			if line := string(status.State) + ": " + status.Message; out != outputJSON && line != shown {
				shown = line
				fmt.Fprintf(progress, "  %s\n", stateLine(status.State, status.Message))
			}
		}
		ok, err := done(status)
		if ok || err != nil {
			result, finished = err, true
			cancel()
		}
	}
	// Every change of the app (record or status) is a reason to look at its status again; the
	// change itself cannot say whether a deleted key was the record or the status.
	err := st.Watch(wctx, func(c app.Change) {
		switch {
		case finished:
		case c.Synced:
			synced = true
			check()
		case synced && c.Name == name:
			check()
		}
	})
	if finished {
		return last, result
	}
	if err != nil {
		return last, err
	}
	if ctx.Err() != nil {
		return last, fmt.Errorf("app %s: stopped waiting for %s: %w", name, what, ctx.Err())
	}
	msg := "it has no status yet"
	if last != nil {
		msg = "last status: " + stateLine(last.State, last.Message)
		if last.Version != "" {
			msg += " (version " + last.Version + ")"
		}
	}
	err = fmt.Errorf("app %s: not %s after %s; %s", name, what, timeout, msg)
	if _, held, herr := app.CurrentHolder(ctx, s.js, s.Lattice()); herr == nil && !held {
		err = fmt.Errorf("%w; %s", err, noReconcilerMessage)
	}
	return last, err
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
