package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trellis-lattice/trellis/lattice"
)

func newCtlGetCmd(f *ctlFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get",
		Short: "Show hosts, inventories, claims or links",
	}
	cmd.AddCommand(newCtlGetHostsCmd(f), newCtlGetInventoryCmd(f), newCtlGetClaimsCmd(f), newCtlGetLinksCmd(f))
	return cmd
}

func newCtlGetHostsCmd(f *ctlFlags) *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "hosts",
		Short: "List the hosts of the lattice (those that answer a ping)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := f.connect(cmd, false)
			if err != nil {
				return err
			}
			defer s.close()
			hosts, err := s.hosts(cmd.Context())
			if err != nil {
				return err
			}
			if len(hosts) == 0 {
				return noHostsError(s)
			}
			w := cmd.OutOrStdout()
			if out == outputJSON {
				return writeJSON(w, map[string]any{"hosts": hosts})
			}
			t := newTable(w, "HOST ID", "FRIENDLY NAME", "UPTIME", "VERSION", "LABELS")
			for _, h := range hosts {
				t.row(h.ID, h.FriendlyName, h.UptimeHuman, h.Version, formatMap(h.Labels))
			}
			return t.flush()
		},
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func newCtlGetInventoryCmd(f *ctlFlags) *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:     "inventory [HOST_ID]",
		Aliases: []string{"inv"},
		Short:   "Show the actors and providers a host runs (every host when none is given)",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := f.connect(cmd, false)
			if err != nil {
				return err
			}
			defer s.close()
			ctx := cmd.Context()
			var ids []string
			if len(args) == 1 {
				if err := lattice.CheckPublicKey(lattice.PrefixServer, args[0]); err != nil {
					return fmt.Errorf("host id: %w", err)
				}
				ids = args
			} else {
				hosts, err := s.hosts(ctx)
				if err != nil {
					return err
				}
				if len(hosts) == 0 {
					return noHostsError(s)
				}
				for _, h := range hosts {
					ids = append(ids, h.ID)
				}
			}
			invs := make([]*lattice.HostInventory, 0, len(ids))
			for _, id := range ids {
				inv, err := s.GetInventory(ctx, id)
				if err != nil {
					return err
				}
				invs = append(invs, inv)
			}
			w := cmd.OutOrStdout()
			if out == outputJSON {
				if len(args) == 1 {
					return writeJSON(w, invs[0])
				}
				return writeJSON(w, map[string]any{"inventories": invs})
			}
			for i, inv := range invs {
				if i > 0 {
					fmt.Fprintln(w)
				}
				if err := writeInventory(w, inv); err != nil {
					return err
				}
			}
			return nil
		},
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func writeInventory(w io.Writer, inv *lattice.HostInventory) error {
	fmt.Fprintf(w, "Host %s (%s)\n", inv.HostID, inv.FriendlyName)
	if len(inv.Labels) > 0 {
		fmt.Fprintf(w, "Labels: %s\n", formatMap(inv.Labels))
	}
	fmt.Fprintln(w)
	if len(inv.Actors) == 0 {
		fmt.Fprintln(w, "No actors.")
	} else {
		// INSTANCES is the count; IN USE, IDLE, MIN and MAX are the live wasm instances, which a
		// host without them (a wasmCloud one) does not report.
		t := newTable(w, "ACTOR ID", "NAME", "INSTANCES", "IN USE", "IDLE", "MIN", "MAX", "IMAGE REF")
		for _, a := range inv.Actors {
			inUse, idle, least, most := "-", "-", "-", "-"
			if a.MaxInstances > 0 {
				inUse, idle = strconv.Itoa(a.InstancesInUse), strconv.Itoa(a.InstancesIdle)
				least, most = strconv.Itoa(a.MinInstances), strconv.Itoa(a.MaxInstances)
			}
			t.row(a.ID, a.Name, strconv.Itoa(len(a.Instances)), inUse, idle, least, most, a.ImageRef)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	if len(inv.Providers) == 0 {
		fmt.Fprintln(w, "No providers.")
		return nil
	}
	t := newTable(w, "PROVIDER ID", "NAME", "CONTRACT", "LINK NAME", "STATE", "IMAGE REF")
	for _, p := range inv.Providers {
		t.row(p.ID, p.Name, p.ContractID, p.LinkName, p.State, p.ImageRef)
	}
	if err := t.flush(); err != nil {
		return err
	}
	for _, p := range inv.Providers {
		if p.LastError != "" { // why a restarting provider keeps failing
			fmt.Fprintf(w, "Provider %s (link name %s) last failed: %s\n", p.ID, p.LinkName, p.LastError)
		}
	}
	return nil
}

func newCtlGetClaimsCmd(f *ctlFlags) *cobra.Command {
	return listCmd(f, "claims", "claims", "List the claims of every actor and provider the lattice knows",
		(*ctlSession).GetClaims, func(t *table, c map[string]string) {
			caps := c["caps"]
			if caps == "" {
				caps = c["contract_id"]
			}
			t.row(c["sub"], c["name"], caps, c["call_alias"], c["version"], c["rev"], c["iss"], c["image_ref"])
		}, "SUBJECT", "NAME", "CAPABILITIES / CONTRACT", "CALL ALIAS", "VERSION", "REV", "ISSUER", "IMAGE REF")
}

func newCtlGetLinksCmd(f *ctlFlags) *cobra.Command {
	cmd := newLinksQueryCmd(f)
	cmd.Use = "links"
	return cmd
}

// newLinksQueryCmd lists links; it serves both `ctl get links` and `ctl link query`.
func newLinksQueryCmd(f *ctlFlags) *cobra.Command {
	return listCmd(f, "query", "links", "List the links of the lattice",
		(*ctlSession).GetLinks, func(t *table, l lattice.LinkDefinition) {
			t.row(l.ActorID, l.ProviderID, l.ContractID, l.LinkName, formatValues(l.Values), l.Status)
		}, "ACTOR", "PROVIDER", "CONTRACT", "LINK NAME", "VALUES", "STATUS")
}

// listCmd is a command that lists what fetch returns: with -o json as {"<what>": […]}, else a
// table of one row per item (or "No <what>." for none).
func listCmd[T any](f *ctlFlags, use, what, short string, fetch func(*ctlSession, context.Context) ([]T, error),
	row func(*table, T), columns ...string) *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := f.connect(cmd, false)
			if err != nil {
				return err
			}
			defer s.close()
			items, err := fetch(s, cmd.Context())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out == outputJSON {
				return writeJSON(w, map[string]any{what: items})
			}
			if len(items) == 0 {
				fmt.Fprintf(w, "No %s.\n", what)
				return nil
			}
			t := newTable(w, columns...)
			for _, it := range items {
				row(t, it)
			}
			return t.flush()
		},
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

// formatValues shows link values, hiding the long config blobs.
func formatValues(values map[string]string) string {
	short := make(map[string]string, len(values))
	for k, v := range values {
		if len(v) > 48 {
			v = v[:45] + "..."
		}
		short[k] = strings.ReplaceAll(v, "\n", " ")
	}
	return formatMap(short)
}
