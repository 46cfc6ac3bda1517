package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trellis-lattice/trellis/lattice"
)

// LeaseBucketName is the reconciler lease bucket of a lattice.
func LeaseBucketName(latticeName string) string {
	return lattice.NewSubjects(latticeName).LeaseBucket()
}

const leaseKey = "reconciler"

// Lease picks the one reconciler that acts for a lattice. It is a key in a KV bucket whose max
// age is the lease's time to live: the holder renews it (compare-and-set on its revision) well
// within the TTL; when the holder stops renewing (its host died), JetStream expires the entry and
// the next host to try creates it. Created and updated only with compare-and-set, the key has at
// most one holder at a time. A Lease is used by one goroutine.
type Lease struct {
	kv     jetstream.KeyValue
	holder string
	ttl    time.Duration
	rev    uint64    // revision of our entry while we hold it
	since  time.Time // when we took it
}

// LeaseHolder is the lease's value: who holds it and since when (renewals keep the time).
type LeaseHolder struct {
	Holder string    `json:"holder"`
	Since  time.Time `json:"since"`
}

// OpenLease binds holder (a host id) to the lattice's lease bucket, creating it with ttl as its
// max age. An existing bucket keeps its own TTL; TTL reports the one in effect.
func OpenLease(ctx context.Context, js jetstream.JetStream, latticeName, holder string, ttl time.Duration, replicas int) (*Lease, error) {
	if latticeName == "" {
		latticeName = lattice.DefaultLattice
	}
	if ttl < time.Second {
		return nil, fmt.Errorf("reconciler lease: ttl %s is under a second", ttl)
	}
	kv, err := openBucket(ctx, js, jetstream.KeyValueConfig{
		Bucket:      LeaseBucketName(latticeName),
		Description: "lattice " + latticeName + ": the reconciler lease",
		History:     1,
		TTL:         ttl,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("open reconciler lease: %w", err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("reconciler lease %s: %w", kv.Bucket(), err)
	}
	if st.TTL() > 0 {
		ttl = st.TTL()
	}
	return &Lease{kv: kv, holder: holder, ttl: ttl}, nil
}

// TTL is how long the lease lives without renewal.
func (l *Lease) TTL() time.Duration { return l.ttl }

// Held reports whether this holder held the lease at its last Acquire.
func (l *Lease) Held() bool { return l.rev != 0 }

// Acquire takes the lease when it is free, or renews it when this holder has it; it reports
// whether this holder has it now. An error means the bucket could not be reached: the caller
// must then act as if it did not hold the lease.
func (l *Lease) Acquire(ctx context.Context) (bool, error) {
	since := l.since
	if l.rev == 0 {
		since = time.Now().UTC()
	}
	raw, err := json.Marshal(LeaseHolder{Holder: l.holder, Since: since})
	if err != nil {
		return false, err
	}
	if l.rev != 0 {
		rev, err := l.kv.Update(ctx, leaseKey, raw, l.rev)
		if err == nil {
			l.rev = rev
			return true, nil
		}
		l.rev = 0
		if !conflict(err) && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return false, fmt.Errorf("renew reconciler lease: %w", err)
		}
		// Expired or taken: fall through and try to create it.
	}
	rev, err := l.kv.Create(ctx, leaseKey, raw)
	if err == nil {
		l.rev, l.since = rev, since
		return true, nil
	}
	if !conflict(err) {
		return false, fmt.Errorf("take reconciler lease: %w", err)
	}
	// Someone has it. If it is this holder's own entry from before a restart, take it back.
	e, err := l.kv.Get(ctx, leaseKey)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return false, nil
		}
		return false, fmt.Errorf("read reconciler lease: %w", err)
	}
	var cur LeaseHolder
	if json.Unmarshal(e.Value(), &cur) == nil && cur.Holder == l.holder {
		if rev, err := l.kv.Update(ctx, leaseKey, raw, e.Revision()); err == nil {
			l.rev, l.since = rev, since
			return true, nil
		}
	}
	return false, nil
}

// Release gives the lease up at once (when the holder stops), so another host takes over
// without waiting for the TTL.
func (l *Lease) Release(ctx context.Context) error {
	if l.rev == 0 {
		return nil
	}
	rev := l.rev
	l.rev = 0
	if err := l.kv.Delete(ctx, leaseKey, jetstream.LastRevision(rev)); err != nil && !conflict(err) {
		return fmt.Errorf("release reconciler lease: %w", err)
	}
	return nil
}

// CurrentHolder returns who holds the lease, if anyone.
func CurrentHolder(ctx context.Context, js jetstream.JetStream, latticeName string) (LeaseHolder, bool, error) {
	if latticeName == "" {
		latticeName = lattice.DefaultLattice
	}
	kv, err := js.KeyValue(ctx, LeaseBucketName(latticeName))
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return LeaseHolder{}, false, nil
	}
	if err != nil {
		return LeaseHolder{}, false, fmt.Errorf("reconciler lease: %w", err)
	}
	e, err := kv.Get(ctx, leaseKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return LeaseHolder{}, false, nil
	}
	if err != nil {
		return LeaseHolder{}, false, fmt.Errorf("reconciler lease: %w", err)
	}
	var h LeaseHolder
	if err := json.Unmarshal(e.Value(), &h); err != nil {
		return LeaseHolder{}, false, fmt.Errorf("reconciler lease: %w: %v", lattice.ErrMalformedEntry, err)
	}
	return h, true, nil
}
