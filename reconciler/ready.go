package reconciler

import (
	"context"
	"fmt"

	"github.com/trellis-lattice/trellis/lattice/app"
)

// HostReady reports whether the host runs its share of every deployed app, as the reconciler
// last saw it: each deployed app's status is of its deployed version and counts the host ready.
// The reason says what it waits for.
func HostReady(ctx context.Context, store *app.Store, hostID string) (bool, string) {
	records, err := store.List(ctx)
	if err != nil && records == nil {
		return false, err.Error()
	}
	statuses, err := store.Statuses(ctx)
	if err != nil && statuses == nil {
		return false, err.Error()
	}
	for _, r := range records {
		if r.Deployed == "" {
			continue
		}
		st, ok := statuses[r.Name]
		if !ok || st.Version != r.Deployed {
			return false, fmt.Sprintf("app %s version %s: not reconciled yet", r.Name, r.Deployed)
		}
		if !st.Ready(hostID) {
			return false, fmt.Sprintf("app %s: this host does not run its share yet (%s)", r.Name, st.Message)
		}
	}
	return true, ""
}
