package host

import (
	"context"
	"fmt"

	"github.com/trellis-lattice/trellis/lattice"
)

// updateActor replaces the module of the running actor id with the one at ref (upd). wasmCloud's
// rule applies: the new module has the same subject and a strictly higher revision. The module
// already running (same hash, same revision) is a no-op that still reports actor_updated, so an
// update can be repeated.
//
// The new module is instantiated once before the swap: one that does not start leaves the old
// revision serving. The swap drops no call: a call already in an instance of the old module
// finishes there, and calls waiting for an instance of the old module, like new ones, run on the
// new module (runActor). Until the old module's busy instances finish, both revisions' instances
// exist.
//
// On success updateActor publishes actor_updated for each instance. rev is the revision ref holds
// when it could be read (0 otherwise), for the actor_update_failed event the caller publishes.
func (h *Host) updateActor(ctx context.Context, id, ref string) (rev int, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("update actor %s: %w", id, err)
		}
	}()
	a, ok := h.actors.get(id)
	if !ok {
		return 0, errNotRunning
	}
	v, err := h.loadModule(ctx, ref)
	if err != nil {
		return 0, err
	}
	rev = v.claims.Revision()
	// Refuse early, before the compile; the rule is checked again under the lifecycle lock.
	noop, err := updateRule(a, ref, v.claims)
	if err != nil {
		return rev, err
	}
	var am *actorModule
	var first *instance
	if !noop {
		if am, err = h.compileModule(ctx, v); err != nil {
			return rev, err
		}
		if first, err = h.rt.instantiate(ctx, am.compiled, h.guestLog(id), a.memPages); err != nil {
			_ = am.compiled.Close(ctx)
			return rev, fmt.Errorf("%s (revision %d) does not start, so revision %d keeps running: %w", ref, rev, a.claims().Revision(), err)
		}
	}
	discard := func() {
		if am != nil {
			first.close(ctx)
			_ = am.compiled.Close(ctx)
		}
	}

	h.lifecycle.Lock()
	defer h.lifecycle.Unlock()
	if err := h.stillRunning(a); err != nil {
		discard()
		return rev, err
	}
	if noop, err = updateRule(a, ref, v.claims); err != nil || noop {
		discard()
		if noop {
			h.swapped(a, ref, rev)
		}
		return rev, err
	}
	if am == nil { // cannot happen: an update in between makes the module that ran older, so refused
		return rev, fmt.Errorf("the actor changed while this update pulled %s; try again", ref)
	}
	am.pool = h.newActorPool(a, am)
	am.pool.put(first)
	old := a.mod.Swap(am)
	a.mu.Lock()
	a.imageRef = ref
	for i := range a.inst {
		a.inst[i].Revision = am.claims.Actor.Rev
	}
	a.mu.Unlock()
	old.close() // after the swap: a call woken by the close finds the new module
	if err := h.store.PutClaims(ctx, am.claims.Token); err != nil {
		h.log.Warn().Err(err).Str("actor", id).Msg("store claims")
	}
	h.aliases.put(id, am.claims.StringMap())
	h.publishUpdated(a, ref, old.claims.Revision())
	return rev, nil
}

// updateRule applies wasmCloud's update rule to replacing what actor a runs with the module of
// next, read from ref: noop when that module already runs, an error when the rule refuses it.
func updateRule(a *actor, ref string, next *lattice.ActorClaims) (noop bool, err error) {
	cur := a.claims()
	switch {
	case next.Subject != a.id:
		return false, fmt.Errorf("%s holds actor %s, not %s: an update keeps the actor's key", ref, next.Subject, a.id)
	case next.Actor.Hash == cur.Actor.Hash && next.Revision() == cur.Revision():
		return true, nil
	case next.Revision() <= cur.Revision():
		return false, fmt.Errorf("%s holds revision %d, not above revision %d that runs on this host from %s: an update needs a higher revision (sign the new module with trellis claims sign --rev %d or more)",
			ref, next.Revision(), cur.Revision(), a.ref(), cur.Revision()+1)
	}
	return false, nil
}

// stillRunning reports whether a is still the running actor of its key (a stop may have ended it
// while its update pulled and compiled). Callers hold the lifecycle lock.
func (h *Host) stillRunning(a *actor) error {
	if !h.actors.running(a) {
		return errNotRunning
	}
	return nil
}

// swapped records a no-op update: the module at ref already runs; ref becomes the actor's
// reference, as after any update.
func (h *Host) swapped(a *actor, ref string, rev int) {
	a.mu.Lock()
	a.imageRef = ref
	a.mu.Unlock()
	h.publishUpdated(a, ref, rev)
}

// publishUpdated publishes actor_updated for each instance of a, as the OTP host does.
func (h *Host) publishUpdated(a *actor, ref string, previous int) {
	rev := a.claims().Revision()
	for _, in := range a.instances() {
		h.publish(lattice.EventActorUpdated, lattice.ActorUpdatedData{
			PublicKey: a.id, Revision: rev, InstanceID: in.InstanceID, ImageRef: ref, PreviousRevision: previous,
		})
	}
}
