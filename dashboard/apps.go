package dashboard

import (
	"context"
	"errors"
	"time"

	"github.com/trellis-lattice/trellis/lattice/app"
)

const (
	// leaseInterval is how often the dashboard asks who holds the reconciler lease.
	leaseInterval = 2 * time.Second
	// appsRetryMin and appsRetryMax bound the wait before the apps store is opened or watched
	// again after a failure (no JetStream yet, a NATS reconnect).
	appsRetryMin = 500 * time.Millisecond
	appsRetryMax = 15 * time.Second
)

// watchApps keeps the view's apps current until ctx ends: it opens the apps store, replays it
// and follows its changes, and starts over after a failure. The reconciler's app_status events
// (state.apply) bring the same statuses, so either way the page follows within moments.
func (d *Dashboard) watchApps(ctx context.Context) {
	wait := appsRetryMin
	for ctx.Err() == nil {
		started := time.Now()
		err := d.watchAppsOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		d.log.Warn().Err(err).Msg("follow the apps store")
		d.state.setAppsWatchError(err)
		if time.Since(started) > appsRetryMax {
			wait = appsRetryMin // it ran a while: this is a new failure
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, appsRetryMax)
	}
}

// watchAppsOnce opens the store (once) and watches it until the watch fails or ctx ends.
func (d *Dashboard) watchAppsOnce(ctx context.Context) error {
	store := d.apps.Load()
	if store == nil {
		var err error
		if store, err = app.OpenStore(ctx, d.cfg.JetStream, d.client.Lattice(), d.cfg.AppsReplicas); err != nil {
			return err
		}
		d.apps.Store(store)
	}
	d.state.appsWatchStarted()
	err := store.Watch(ctx, func(c app.Change) {
		if !c.Synced && !c.Deleted && c.Record == nil && c.Status == nil {
			d.log.Warn().Str("key", c.Key).Str("bucket", store.Bucket()).Msg("apps store: an entry cannot be read; it is left out")
			return
		}
		d.state.appChange(c)
	})
	if err == nil && ctx.Err() == nil {
		err = errors.New("watch of the apps store ended")
	}
	return err
}

// followLease asks who holds the reconciler lease every leaseInterval until ctx ends.
func (d *Dashboard) followLease(ctx context.Context) {
	tick := time.NewTicker(leaseInterval)
	defer tick.Stop()
	for {
		h, ok, err := app.CurrentHolder(ctx, d.cfg.JetStream, d.client.Lattice())
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			d.log.Debug().Err(err).Msg("ask for the reconciler lease")
		}
		holder := ""
		if ok {
			holder = h.Holder
		}
		d.state.setReconciler(holder, err)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
