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
	err := store.Watch(ctx, func(c app.Change) { d.appChange(ctx, store, c) })
	if err == nil && ctx.Err() == nil {
		err = errors.New("watch of the apps store ended")
	}
	return err
}

// appChange applies one change of the apps store to the state.
func (d *Dashboard) appChange(ctx context.Context, store *app.Store, c app.Change) {
	switch {
	case c.Synced || c.Record != nil || c.Status != nil:
		d.state.appChange(c)
	case c.Deleted:
		// A change does not say whether the record or the status went: read what is left.
		r, st, err := appLeft(ctx, store, c.Name)
		if err != nil {
			d.log.Warn().Err(err).Str("app", c.Name).Msg("read an app after a deletion")
			return
		}
		d.state.appLeft(c.Name, r, st)
	default:
		d.log.Warn().Str("app", c.Name).Str("bucket", store.Bucket()).Msg("apps store: an entry cannot be read; it is left out")
	}
}

// appLeft reads an app's record and status, nil for what is not there.
func appLeft(ctx context.Context, store *app.Store, name string) (*app.Record, *app.Status, error) {
	r, err := store.Get(ctx, name)
	if errors.Is(err, app.ErrNotFound) {
		r, err = nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Status(ctx, name)
	if errors.Is(err, app.ErrNotFound) {
		st, err = nil, nil
	}
	return r, st, err
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
