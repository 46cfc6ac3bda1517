package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/oam"
)

// noReconcilerMessage is what the app commands say when no host holds the reconciler lease.
const noReconcilerMessage = "no reconciler is running: no host holds the lease"

// staleAfter is how old a status that is not deployed may be before the commands say when it
// was last updated: the reconciler rewrites the status of an app it is working on more often.
const staleAfter = 10 * time.Second

// timeFormat is how the app commands print times (UTC).
const timeFormat = time.RFC3339

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

// age says how long ago t was, to the second.
func age(now, t time.Time) string {
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return d.String() + " ago"
}

func stateLine(state app.State, message string) string {
	if message == "" {
		return string(state)
	}
	return string(state) + ": " + message
}

// effectiveState is what the commands show for an app: the stored status, unless the reconciler
// has not written one yet, or has not yet acted on the version now deployed (or on the
// undeploy). rec is nil for an app deleted while its status remains.
func effectiveState(rec *app.Record, st *app.Status) (app.State, string) {
	deployed := ""
	if rec != nil {
		deployed = rec.Deployed
	}
	if why, behind := app.Behind(deployed, st); behind {
		return app.StateReconciling, why
	}
	if st == nil {
		return app.StateUndeployed, ""
	}
	return st.State, st.Message
}

// staleNote says when a status that is not settled was last updated, when that is more than
// staleAfter ago; "" otherwise. Settled are deployed, and undeployed with nothing running: the
// reconciler has nothing more to write then.
func staleNote(st *app.Status, now time.Time) string {
	if st == nil || st.State == app.StateDeployed || st.State == app.StateUndeployed && nothingRuns(st) ||
		st.Updated.IsZero() || now.Sub(st.Updated) <= staleAfter {
		return ""
	}
	return fmt.Sprintf("last updated %s (%s)", age(now, st.Updated), formatTime(st.Updated))
}

// componentSummary is "2/2 instances of echo, 1/1 hosts of httpserver".
func componentSummary(st *app.Status) string {
	if st == nil || len(st.Components) == 0 {
		return "no components"
	}
	parts := make([]string, len(st.Components))
	for i, c := range st.Components {
		unit := "instances"
		if c.Type == oam.TypeCapability {
			unit = "hosts"
		}
		parts[i] = fmt.Sprintf("%d/%d %s of %s", c.Actual, c.Desired, unit, c.Name)
	}
	return strings.Join(parts, ", ")
}

// leaseHolder returns the reconciler lease's holder, nil when no host holds it.
func (s *appSession) leaseHolder(ctx context.Context) (*app.LeaseHolder, error) {
	h, held, err := app.CurrentHolder(ctx, s.js, s.Lattice())
	if err != nil || !held {
		return nil, err
	}
	return &h, nil
}

// appListItem is one app of `app list -o json`: its stored record with its stored status (null
// when the reconciler has written none). An app deleted while the reconciler still removes what
// it started has only a name and a status.
type appListItem struct {
	app.Record
	Status *app.Status `json:"status"`
}

func newAppListCmd(f *ctlFlags) *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the apps with their deployed and latest versions and their status",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := f.connectApps(cmd)
			if err != nil {
				return err
			}
			defer s.close()
			ctx := cmd.Context()
			w := cmd.OutOrStdout()
			st, err := s.store(ctx, false)
			if errors.Is(err, errNoStore) {
				if out == outputJSON {
					return writeJSON(w, map[string]any{"apps": []appListItem{}})
				}
				fmt.Fprintln(w, "No apps.")
				return nil
			}
			if err != nil {
				return err
			}
			recs, err := st.List(ctx)
			if err != nil && recs == nil {
				return err
			}
			listErr := err // entries that could not be read: reported after the list
			statuses, err := st.Statuses(ctx)
			if err != nil && statuses == nil {
				return err
			}
			listErr = errors.Join(listErr, err)
			items := make([]appListItem, 0, len(recs))
			for _, r := range recs {
				it := appListItem{Record: r}
				if stt, ok := statuses[r.Name]; ok {
					it.Status = &stt
					delete(statuses, r.Name)
				}
				items = append(items, it)
			}
			for name, stt := range statuses { // deleted apps still being removed
				items = append(items, appListItem{Record: app.Record{Name: name}, Status: &stt})
			}
			slices.SortFunc(items, func(a, b appListItem) int { return strings.Compare(a.Name, b.Name) })
			if out == outputJSON {
				if err := writeJSON(w, map[string]any{"apps": items}); err != nil {
					return err
				}
				return listErr
			}
			holder, herr := s.leaseHolder(ctx)
			if len(items) == 0 {
				fmt.Fprintln(w, "No apps.")
			} else {
				now := time.Now()
				t := newTable(w, "NAME", "DEPLOYED", "LATEST", "STATUS", "MESSAGE")
				for _, it := range items {
					var rec *app.Record
					latest := ""
					if len(it.Versions) > 0 {
						rec = &it.Record
						latest = it.Latest().Version
					}
					state, msg := effectiveState(rec, it.Status)
					if rec == nil {
						msg = strings.TrimSuffix("deleted; "+msg, "; ")
					}
					if note := staleNote(it.Status, now); note != "" && state == it.Status.State {
						msg = strings.TrimSpace(msg + " (" + note + ")")
					}
					t.row(it.Name, it.Deployed, latest, string(state), msg)
				}
				if err := t.flush(); err != nil {
					return err
				}
			}
			if herr == nil && holder == nil && len(items) > 0 {
				fmt.Fprintf(w, "\nWarning: %s; no app changes until a host takes it (start one with `trellis up` or `trellis host`).\n", noReconcilerMessage)
			}
			return errors.Join(listErr, herr)
		},
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

// getRecord reads one app for the read-only commands.
func (s *appSession) getRecord(ctx context.Context, name string) (*app.Record, error) {
	st, err := s.store(ctx, false)
	if err != nil {
		return nil, err
	}
	rec, err := st.Get(ctx, name)
	if err != nil {
		return nil, notFound(ctx, st, name, err)
	}
	return rec, nil
}

func newAppGetCmd(f *ctlFlags) *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "get NAME [VERSION]",
		Short: "Print a version's manifest as YAML (-o json: JSON); default the deployed version, else the latest",
		Args:  appNameArgs(cobra.RangeArgs(1, 2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := f.connectApps(cmd)
			if err != nil {
				return err
			}
			defer s.close()
			rec, err := s.getRecord(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			v := rec.Deployed
			if len(args) == 2 {
				v = args[1]
			} else if v == "" {
				v = rec.Latest().Version
			}
			ver, err := rec.Version(v)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out == outputJSON {
				return writeJSON(w, ver.Manifest)
			}
			y, err := manifestYAML(ver.Manifest)
			if err != nil {
				return fmt.Errorf("app %s version %s: %w", rec.Name, v, err)
			}
			_, err = w.Write(y)
			return err
		},
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func newAppHistoryCmd(f *ctlFlags) *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "history NAME",
		Short: "List the stored versions of an app, oldest first, and which one is deployed",
		Args:  appNameArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := f.connectApps(cmd)
			if err != nil {
				return err
			}
			defer s.close()
			rec, err := s.getRecord(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out == outputJSON {
				return writeJSON(w, rec)
			}
			t := newTable(w, "VERSION", "PUT AT", "DEPLOYED")
			for _, v := range rec.Versions {
				deployed := ""
				switch {
				case v.Version == rec.Deployed:
					deployed = "* since " + formatTime(v.DeployedAt)
				case !v.DeployedAt.IsZero():
					deployed = "last " + formatTime(v.DeployedAt)
				}
				t.row(v.Version, formatTime(v.PutAt), deployed)
			}
			if err := t.flush(); err != nil {
				return err
			}
			if rec.Deployed == "" {
				fmt.Fprintf(w, "\nApp %s is not deployed.\n", rec.Name)
			}
			return nil
		},
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

// appStatusView is what `app status -o json` prints: the app's deployed version from its record,
// the stored status (null when the reconciler has written none) and the reconciler lease's
// holder (null when no host holds it: then no reconciler runs).
type appStatusView struct {
	Name     string           `json:"name"`
	Deployed string           `json:"deployed,omitempty"`
	Status   *app.Status      `json:"status"`
	Lease    *app.LeaseHolder `json:"reconciler_lease"`

	rec *app.Record // nil when the app was deleted
}

// readStatus gathers what `app status` shows.
func (s *appSession) readStatus(ctx context.Context, st *app.Store, name string) (*appStatusView, error) {
	v := &appStatusView{Name: name}
	rec, recErr := st.Get(ctx, name)
	switch {
	case recErr == nil:
		v.rec, v.Deployed = rec, rec.Deployed
	case !errors.Is(recErr, app.ErrNotFound):
		return nil, recErr
	}
	status, err := st.Status(ctx, name)
	switch {
	case err == nil:
		v.Status = status
	case !errors.Is(err, app.ErrNotFound):
		return nil, err
	case v.rec == nil: // neither a record nor a status
		return nil, notFound(ctx, st, name, recErr)
	}
	if v.Lease, err = s.leaseHolder(ctx); err != nil {
		return nil, err
	}
	return v, nil
}

// writeAppStatus prints a status view for people.
func writeAppStatus(w io.Writer, v *appStatusView, now time.Time) error {
	st := v.Status
	state, msg := effectiveState(v.rec, st)
	fmt.Fprintf(w, "App:         %s\n", v.Name)
	switch {
	case v.rec == nil:
		fmt.Fprintln(w, "Deployed:    none (the app was deleted; the reconciler removes what it started)")
	case v.Deployed == "":
		fmt.Fprintln(w, "Deployed:    none (undeployed)")
	default:
		fmt.Fprintf(w, "Deployed:    %s\n", v.Deployed)
	}
	fmt.Fprintf(w, "State:       %s\n", state)
	if msg != "" {
		fmt.Fprintf(w, "Message:     %s\n", msg)
	}
	if st != nil {
		if st.Version != v.Deployed {
			fmt.Fprintf(w, "Reported:    %s for %s (the reconciler has not caught up)\n", stateLine(st.State, st.Message), app.VersionText(st.Version))
		}
		if !st.Since.IsZero() {
			fmt.Fprintf(w, "Since:       %s (%s)\n", formatTime(st.Since), age(now, st.Since))
		}
		if !st.Updated.IsZero() {
			fmt.Fprintf(w, "Updated:     %s (%s)\n", formatTime(st.Updated), age(now, st.Updated))
		}
	}
	switch {
	case v.Lease == nil:
		fmt.Fprintf(w, "Reconciler:  none: %s\n", noReconcilerMessage)
	case st != nil && st.Reconciler != "" && st.Reconciler != v.Lease.Holder:
		fmt.Fprintf(w, "Reconciler:  %s (holds the lease; this status was written by %s)\n", v.Lease.Holder, st.Reconciler)
	default:
		fmt.Fprintf(w, "Reconciler:  %s (holds the lease)\n", v.Lease.Holder)
	}
	if st != nil && len(st.Components) > 0 {
		fmt.Fprintln(w)
		t := newTable(w, "COMPONENT", "TYPE", "IMAGE", "DESIRED", "ACTUAL", "MESSAGE")
		for _, c := range st.Components {
			t.row(c.Name, c.Type, c.Image, strconv.Itoa(c.Desired), strconv.Itoa(c.Actual), c.Message)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if st != nil && len(st.Links) > 0 {
		ready := 0
		for _, l := range st.Links {
			if l.Ready {
				ready++
			}
		}
		fmt.Fprintf(w, "\nLinks: %d of %d ready\n", ready, len(st.Links))
		t := newTable(w, "SOURCE", "TARGET", "CONTRACT", "LINK NAME", "READY")
		for _, l := range st.Links {
			t.row(l.Source, l.Target, l.ContractID, l.LinkName, yesNo(l.Ready))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	var warnings []string
	if v.Lease == nil {
		warnings = append(warnings, noReconcilerMessage+"; nothing changes until a host takes it (start one with `trellis up` or `trellis host`)")
	}
	if note := staleNote(st, now); note != "" {
		warnings = append(warnings, fmt.Sprintf("this %s status was %s: the reconciler may be stuck or gone", st.State, note))
	}
	if len(warnings) > 0 {
		fmt.Fprintln(w)
	}
	for _, warn := range warnings {
		fmt.Fprintf(w, "Warning: %s.\n", warn)
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func newAppStatusCmd(f *ctlFlags) *cobra.Command {
	var (
		out   outputFormat
		watch bool
	)
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Show an app's state, its components' desired and running counts, its links and its reconciler",
		Long: `Show what the reconciler last reported for an app: its state (deployed, reconciling, failed or
undeployed) and message, since when, each component's desired and actual count, which links are
in place, and which host reconciles. It says so when no host holds the reconciler lease (then
nothing changes), and when a status that is not deployed has not been updated for a while.
--watch prints it again on every change, until Ctrl-C.`,
		Args: appNameArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			s, err := f.connectApps(cmd)
			if err != nil {
				return err
			}
			defer s.close()
			ctx := cmd.Context()
			st, err := s.store(ctx, false)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			show := func(v *appStatusView) error {
				if out == outputJSON {
					return writeJSON(w, v)
				}
				return writeAppStatus(w, v, time.Now())
			}
			if !watch {
				v, err := s.readStatus(ctx, st, name)
				if err != nil {
					return err
				}
				return show(v)
			}
			return watchAppStatus(ctx, s, st, name, out, w, show)
		},
	}
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "print the status again on every change, until Ctrl-C")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

// watchAppStatus prints the status once the store's current state is replayed, then again on
// every change of the app that changes what is printed, until ctx ends.
func watchAppStatus(ctx context.Context, s *appSession, st *app.Store, name string, out outputFormat, w io.Writer,
	show func(*appStatusView) error) error {
	var (
		result  error
		printed bool
		last    string
	)
	err := watchApp(ctx, st, name, func(ctx context.Context) bool {
		v, err := s.readStatus(ctx, st, name)
		if err != nil {
			if ctx.Err() != nil {
				return false // Ctrl-C: the watch ends
			}
			result = err
			return true
		}
		key := watchKey(v)
		if printed && key == last {
			return false
		}
		if printed && out != outputJSON {
			fmt.Fprintln(w, "---")
		}
		if result = show(v); result != nil {
			return true
		}
		printed, last = true, key
		return false
	})
	if result != nil {
		return result
	}
	return err
}

// watchKey is what `status --watch` compares to decide whether to print again: the view without
// the time of the last write, which the reconciler may refresh without changing anything else.
func watchKey(v *appStatusView) string {
	c := *v
	if v.Status != nil {
		st := *v.Status
		st.Updated = time.Time{}
		c.Status = &st
	}
	raw, _ := json.Marshal(c)
	return string(raw)
}
