package host

import (
	"slices"
	"testing"

	"github.com/trellis-lattice/trellis/lattice"
)

// controlKindLabels is every kind label controlKind may give.
func controlKindLabels() []string {
	kinds := []string{"unknown", "cmd_unknown"}
	for _, k := range controlKinds {
		kinds = append(kinds, k)
	}
	for c := range controlCommands {
		kinds = append(kinds, "cmd_"+c)
	}
	return kinds
}

func TestControlKind(t *testing.T) {
	h := &Host{subj: lattice.NewSubjects("lat")}
	s := h.subj
	for subject, want := range map[string]string{
		s.PingHosts():        "ping_hosts",
		s.Inventory("NHOST"): "get_inventory",
		s.GetLinks():         "get_links",
		s.LinkPut():          "link_put",
		s.Command("NHOST", lattice.CmdLaunchActor): "cmd_la",
		s.Command("NHOST", "whatever"):             "cmd_unknown",
		"wasmbus.ctl.other.ping.hosts":             "unknown",
		s.Ctl + ".lat.get.a.b.c":                   "unknown",
	} {
		if got := h.controlKind(subject); got != want {
			t.Errorf("controlKind(%q) = %q, want %q", subject, got, want)
		}
	}
}

// FuzzControlKind: whatever the subject, the kind is one of a fixed set (a bounded label).
func FuzzControlKind(f *testing.F) {
	h := &Host{subj: lattice.NewSubjects("lat")}
	for _, s := range []string{h.subj.PingHosts(), h.subj.Command("N", "la"), h.subj.Command("N", "x.y"), "", ".", "wasmbus.ctl.lat."} {
		f.Add(s)
	}
	kinds := controlKindLabels()
	f.Fuzz(func(t *testing.T, subject string) {
		if k := h.controlKind(subject); !slices.Contains(kinds, k) {
			t.Fatalf("controlKind(%q) = %q: not one of the fixed kinds", subject, k)
		}
	})
}
