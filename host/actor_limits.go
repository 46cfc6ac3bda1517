package host

import (
	"context"
	"errors"
	"fmt"
)

// limits are the min and max live instances a start or scale command asks of an actor
// (min_instances, max_instances: Trellis extensions, docs/compat.md); nil keeps what the actor
// has. A new actor has min 0 and max unset: its count.
type limits struct {
	min, max *int
}

func (l limits) set() bool { return l.min != nil || l.max != nil }

// uint16Limits converts the fields of a control command.
func uint16Limits(least, most *uint16) limits {
	var l limits
	if least != nil {
		n := int(*least)
		l.min = &n
	}
	if most != nil {
		n := int(*most)
		l.max = &n
	}
	return l
}

// resolve applies l to the limits an actor has (curMin, curMax) for an actor of count logical
// instances, and checks the outcome: max at least 1 when set, min not above the max (the count
// when max is not set). Nothing is changed on an error.
func (l limits) resolve(curMin, curMax, count int) (least, most int, err error) {
	least, most = curMin, curMax
	if l.min != nil {
		least = *l.min
	}
	if l.max != nil {
		most = *l.max
		if most < 1 {
			return 0, 0, errors.New("max_instances 0: must be at least 1 (stop or scale the actor to 0 to run none)")
		}
	}
	size, what := most, "max_instances"
	if size == 0 {
		size, what = count, "the count (max_instances is not set)"
	}
	if least > size {
		return 0, 0, fmt.Errorf("min_instances %d is above %s %d", least, what, size)
	}
	return least, most, nil
}

// applyLimits records l on actor a, which will have count logical instances; callers hold the
// lifecycle lock and resize the pool after.
func (a *actor) applyLimits(l limits, count int) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	least, most, err := l.resolve(a.minInst, a.maxInst, count)
	if err != nil {
		return fmt.Errorf("actor %s: %w", a.id, err)
	}
	a.minInst, a.maxInst = least, most
	return nil
}

// fitPool sets the pool of a's module to a's limits and makes the instances its min asks for.
// An instance that cannot be made is logged: the actor runs, and its calls make instances on
// demand (and report why they cannot).
func (h *Host) fitPool(ctx context.Context, a *actor) {
	am := a.mod.Load()
	am.pool.resize(a.poolLimits())
	if err := am.pool.warm(ctx); err != nil {
		h.log.Warn().Err(err).Str("actor", a.id).Msg("make the actor's min instances")
	}
}
