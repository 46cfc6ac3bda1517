package dashboard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/trellis-lattice/trellis/lattice"
)

// refreshDebounce gathers the follow-ups of a burst of events into one round of queries.
const refreshDebounce = 25 * time.Millisecond

// refreshParallel bounds the inventory requests in flight at once.
const refreshParallel = 8

// refresher asks the lattice what it has: everything at start and every RefreshInterval, and
// what events say changed (a host's inventory, the links, the claims) as they come.
type refresher struct {
	d    *Dashboard
	kick chan struct{}

	mu      sync.Mutex
	all     bool
	links   bool
	claims  bool
	hostInv map[string]bool
}

func newRefresher(d *Dashboard) *refresher {
	return &refresher{d: d, kick: make(chan struct{}, 1), hostInv: map[string]bool{}}
}

// schedule queues the follow-up of an event; run does it shortly after.
func (r *refresher) schedule(f followUp) {
	if f == (followUp{}) {
		return
	}
	r.mu.Lock()
	r.all = r.all || f.hosts
	r.links = r.links || f.links
	r.claims = r.claims || f.claims
	if f.inventory != "" {
		r.hostInv[f.inventory] = true
	}
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// run refreshes everything, then follows the schedule until ctx ends.
func (r *refresher) run(ctx context.Context) {
	r.full(ctx)
	tick := time.NewTicker(r.d.cfg.RefreshInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			r.full(ctx)
		case <-r.kick:
			select {
			case <-ctx.Done():
				return
			case <-time.After(refreshDebounce):
			}
			r.mu.Lock()
			all, links, claims, hosts := r.all, r.links, r.claims, r.hostInv
			r.all, r.links, r.claims, r.hostInv = false, false, false, map[string]bool{}
			r.mu.Unlock()
			if all {
				r.full(ctx)
				continue
			}
			ids := make([]string, 0, len(hosts))
			for id := range hosts {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			if err := r.askInventories(ctx, ids); err != nil {
				r.d.log.Debug().Err(err).Msg("refresh inventories")
			}
			if links {
				if err := r.askLinks(ctx); err != nil {
					r.d.log.Debug().Err(err).Msg("refresh links")
				}
			}
			if claims {
				if err := r.askClaims(ctx); err != nil {
					r.d.log.Debug().Err(err).Msg("refresh claims")
				}
			}
		}
	}
}

// full asks for every host, their inventories, the links and the claims.
func (r *refresher) full(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	hosts, err := r.d.client.GetHosts(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.d.log.Warn().Err(err).Msg("refresh hosts")
			r.d.state.refreshDone(err, nil)
		}
		return
	}
	r.d.state.setHosts(hosts)
	ids := r.d.state.hostIDs()
	errs := []error{r.askInventories(ctx, ids), r.askLinks(ctx), r.askClaims(ctx)}
	if ctx.Err() != nil {
		return
	}
	other := errors.Join(errs...)
	if other != nil {
		r.d.log.Warn().Err(other).Msg("refresh lattice")
	}
	r.d.state.refreshDone(nil, other)
}

// askInventories asks each host for its inventory, a few at a time. A host that does not answer is
// skipped: it goes stale if it stays silent.
func (r *refresher) askInventories(ctx context.Context, ids []string) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, refreshParallel)
	)
	for _, id := range ids {
		if !lattice.IsValidPublicKey(lattice.PrefixServer, id) {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			inv, err := r.d.client.GetInventory(ctx, id)
			if err != nil {
				if !errors.Is(err, lattice.ErrNoHost) && ctx.Err() == nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
				return
			}
			if inv.HostID == "" {
				inv.HostID = id
			}
			r.d.state.setInventory(inv)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// askLinks asks for the links; a lattice without hosts has none.
func (r *refresher) askLinks(ctx context.Context) error {
	links, err := r.d.client.GetLinks(ctx)
	switch {
	case errors.Is(err, lattice.ErrNoHost):
		links = nil
	case err != nil:
		return fmt.Errorf("links: %w", err)
	}
	r.d.state.setLinks(links)
	return nil
}

// askClaims asks for the claims; a lattice without hosts has none.
func (r *refresher) askClaims(ctx context.Context) error {
	claims, err := r.d.client.GetClaims(ctx)
	switch {
	case errors.Is(err, lattice.ErrNoHost):
		claims = nil
	case err != nil:
		return fmt.Errorf("claims: %w", err)
	}
	r.d.state.setClaims(claims)
	return nil
}
