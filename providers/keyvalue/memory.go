package keyvalue

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// kind is what a key holds.
type kind uint8

const (
	kindString kind = iota + 1
	kindList
	kindSet
)

func (k kind) String() string {
	switch k {
	case kindString:
		return "string"
	case kindList:
		return "list"
	case kindSet:
		return "set"
	}
	return "nothing"
}

// entry is one key's value: a string, a list or a set, and when it expires (zero: never).
type entry struct {
	kind    kind
	str     string
	list    []string
	set     map[string]struct{}
	expires time.Time
}

// sweepEvery is how often a write also drops every expired key, so keys nobody reads again do not
// pile up. Reads drop the expired key they meet.
const sweepEvery = time.Minute

// memory is the in-memory backend: one actor's namespace.
type memory struct {
	now func() time.Time

	mu        sync.Mutex
	data      map[string]*entry
	lastSweep time.Time
}

func newMemory(now func() time.Time) *memory {
	if now == nil {
		now = time.Now
	}
	return &memory{now: now, data: map[string]*entry{}, lastSweep: now()}
}

// lookup returns the live entry of key, dropping it when it has expired. mu is held.
func (m *memory) lookup(key string, now time.Time) *entry {
	e, ok := m.data[key]
	if !ok {
		return nil
	}
	if !e.expires.IsZero() && !now.Before(e.expires) {
		delete(m.data, key)
		return nil
	}
	return e
}

// lookupKind is lookup that also checks the kind of a present key. mu is held.
func (m *memory) lookupKind(key string, want kind, now time.Time) (*entry, error) {
	e := m.lookup(key, now)
	if e != nil && e.kind != want {
		return nil, fmt.Errorf("%w: key %q holds a %s, not a %s", ErrWrongType, key, e.kind, want)
	}
	return e, nil
}

// write is called with mu held before every write: it sweeps expired keys now and then.
func (m *memory) write(now time.Time) {
	if now.Sub(m.lastSweep) < sweepEvery {
		return
	}
	m.lastSweep = now
	for k, e := range m.data {
		if !e.expires.IsZero() && !now.Before(e.expires) {
			delete(m.data, k)
		}
	}
}

func (m *memory) get(_ context.Context, key string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, err := m.lookupKind(key, kindString, m.now())
	if err != nil || e == nil {
		return "", false, err
	}
	return e.str, true, nil
}

func (m *memory) set(_ context.Context, key, value string, expires time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.write(now)
	e := &entry{kind: kindString, str: value}
	if expires > 0 {
		e.expires = now.Add(expires)
	}
	m.data[key] = e
	return nil
}

func (m *memory) del(_ context.Context, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.write(now)
	if m.lookup(key, now) == nil {
		return false, nil
	}
	delete(m.data, key)
	return true, nil
}

func (m *memory) contains(_ context.Context, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lookup(key, m.now()) != nil, nil
}

func (m *memory) increment(_ context.Context, key string, by int32) (int32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.write(now)
	e, err := m.lookupKind(key, kindString, now)
	if err != nil {
		return 0, err
	}
	var cur int64
	if e != nil {
		var ok bool
		if cur, ok = parseInteger(e.str); !ok {
			return 0, notInteger(key, e.str)
		}
	}
	n, err := addInt32(key, cur, by)
	if err != nil {
		return 0, err
	}
	if e == nil {
		m.data[key] = &entry{kind: kindString, str: fmt.Sprint(n)}
	} else {
		e.str = fmt.Sprint(n) // keeps the expiry, as INCRBY does
	}
	return n, nil
}

func (m *memory) listAdd(_ context.Context, list, value string) (uint32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.write(now)
	e, err := m.lookupKind(list, kindList, now)
	if err != nil {
		return 0, err
	}
	if e == nil {
		e = &entry{kind: kindList}
		m.data[list] = e
	}
	e.list = append(e.list, value)
	return uint32(len(e.list)), nil
}

func (m *memory) listDel(_ context.Context, list, value string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.write(now)
	e, err := m.lookupKind(list, kindList, now)
	if err != nil || e == nil {
		return false, err
	}
	i := slices.Index(e.list, value)
	if i < 0 {
		return false, nil
	}
	e.list = slices.Delete(e.list, i, i+1)
	if len(e.list) == 0 {
		delete(m.data, list)
	}
	return true, nil
}

func (m *memory) listRange(_ context.Context, list string, start, stop int32) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, err := m.lookupKind(list, kindList, m.now())
	if err != nil {
		return nil, err
	}
	if e == nil {
		return []string{}, nil
	}
	from, to := lrange(len(e.list), start, stop)
	return slices.Clone(e.list[from:to:to]), nil
}

func (m *memory) setAdd(_ context.Context, set, value string) (uint32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.write(now)
	e, err := m.lookupKind(set, kindSet, now)
	if err != nil {
		return 0, err
	}
	if e == nil {
		e = &entry{kind: kindSet, set: map[string]struct{}{}}
		m.data[set] = e
	}
	if _, ok := e.set[value]; ok {
		return 0, nil
	}
	e.set[value] = struct{}{}
	return 1, nil
}

func (m *memory) setDel(_ context.Context, set, value string) (uint32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.write(now)
	e, err := m.lookupKind(set, kindSet, now)
	if err != nil || e == nil {
		return 0, err
	}
	if _, ok := e.set[value]; !ok {
		return 0, nil
	}
	delete(e.set, value)
	if len(e.set) == 0 {
		delete(m.data, set)
	}
	return 1, nil
}

func (m *memory) setQuery(_ context.Context, set string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, err := m.lookupKind(set, kindSet, m.now())
	if err != nil || e == nil {
		return []string{}, err
	}
	return sorted(slices.Collect(maps.Keys(e.set))), nil
}

// sets returns the sets named, nil for a missing one, checking every kind. mu is held.
func (m *memory) sets(names []string) ([]map[string]struct{}, error) {
	if len(names) == 0 {
		return nil, ErrNoSets
	}
	now := m.now()
	out := make([]map[string]struct{}, len(names))
	for i, name := range names {
		e, err := m.lookupKind(name, kindSet, now)
		if err != nil {
			return nil, err
		}
		if e != nil {
			out[i] = e.set
		}
	}
	return out, nil
}

func (m *memory) setUnion(_ context.Context, names []string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sets, err := m.sets(names)
	if err != nil {
		return nil, err
	}
	union := map[string]struct{}{}
	for _, s := range sets {
		maps.Copy(union, s)
	}
	return sorted(slices.Collect(maps.Keys(union))), nil
}

func (m *memory) setIntersection(_ context.Context, names []string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sets, err := m.sets(names)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for v := range sets[0] {
		in := true
		for _, s := range sets[1:] {
			if _, ok := s[v]; !ok {
				in = false
				break
			}
		}
		if in {
			out = append(out, v)
		}
	}
	return sorted(out), nil
}

func (m *memory) ping(context.Context) error { return nil }

func (m *memory) close() error { return nil }

var _ store = (*memory)(nil)
