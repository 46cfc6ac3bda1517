package lattice

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StoreOp says what happened to a key of the lattice bucket.
type StoreOp int

// Store operations delivered by Watch.
const (
	// OpPut: the key holds a new value.
	OpPut StoreOp = iota + 1
	// OpDelete: the key was deleted or purged.
	OpDelete
	// OpSynced: the replay of the current values is complete; everything after it is live. It is
	// delivered once per Watch call and carries no key.
	OpSynced
)

// String names the operation.
func (o StoreOp) String() string {
	switch o {
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	case OpSynced:
		return "synced"
	}
	return fmt.Sprintf("op(%d)", int(o))
}

// StoreKind says what a key of the lattice bucket holds, from its prefix.
type StoreKind int

// Kinds of keys.
const (
	KindOther  StoreKind = iota // a key Trellis does not know
	KindLink                    // LINKDEF_{id}
	KindClaims                  // CLAIMS_{pk}
	KindRefMap                  // REFMAP_{b64url(ref)}
)

// String names the kind of entry.
func (k StoreKind) String() string {
	switch k {
	case KindLink:
		return "link"
	case KindClaims:
		return "claims"
	case KindRefMap:
		return "refmap"
	}
	return "other"
}

// StoreChange is one change of the lattice bucket delivered by Watch.
type StoreChange struct {
	Op       StoreOp
	Key      string
	Kind     StoreKind
	ID       string // the key without its prefix: link id, claims subject, encoded OCI reference
	Revision uint64 // the bucket's revision of this change

	// Link is set for links. For puts it is the decoded link, its ID being the key's id (so a put
	// and a later delete of one key carry the same ID); for deletes only ID is known.
	Link *LinkDefinition
	// Claims is the claims map of a put, taken from the entry's verified token (without the token).
	// It is nil when the entry is malformed or does not verify (DecodeErr says which).
	Claims map[string]string
	// RefMap is the decoded map of a put; for deletes only OCIURL is known (from the key).
	RefMap *RefMap

	// Raw is the value as stored (empty for deletes).
	Raw []byte
	// DecodeErr, wrapping ErrMalformedEntry, says why a put's value could not be decoded or is
	// invalid; for claims it wraps ErrUnverifiedClaims when the entry does not verify. The watch goes on; the decoded fields then hold whatever could be read, if anything.
	DecodeErr error
}

// Watch delivers the current value of every key, then OpSynced, then every change as it happens,
// calling fn from one goroutine, in order. It blocks until ctx ends (and then returns nil) or the
// NATS connection is closed for good, or the bucket no longer exists (both errors).
//
// During the replay, keys that were deleted are skipped: the replay is the current state. A
// consumer that calls Watch again after it returned must drop, at OpSynced, whatever it holds that
// the new replay did not mention. When the connection comes back after an outage (a NATS server
// restart, say) Watch resumes after the last revision it delivered, without a second replay.
// Values that cannot be decoded are delivered with DecodeErr set; they never stop the watch. The
// bucket keeps one value per key, so a value replaced (or purged) before it was delivered may be
// skipped: consumers see every key's latest state, not necessarily every step to it.
func (s *Store) Watch(ctx context.Context, fn func(StoreChange)) error {
	nc := s.js.Conn()
	status := nc.StatusChanged(nats.CONNECTED, nats.CLOSED)
	defer nc.RemoveStatusListener(status)

	st := &watchState{fn: fn}
	backoff := 50 * time.Millisecond
	for {
		if ctx.Err() != nil {
			return nil
		}
		if nc.IsClosed() {
			return fmt.Errorf("watch %s: %w", s.Bucket(), nats.ErrConnectionClosed)
		}
		var opts []jetstream.WatchOpt
		if st.lastRev > 0 {
			opts = append(opts, jetstream.ResumeFromRevision(st.lastRev+1))
		}
		w, err := s.kv.WatchAll(ctx, opts...)
		if err != nil {
			if bucketGone(err) {
				return fmt.Errorf("watch %s: %w", s.Bucket(), err)
			}
			// JetStream may still be starting after a reconnect; try again.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		started := time.Now()
		if err := st.pump(ctx, w, status); err != nil {
			return fmt.Errorf("watch %s: %w", s.Bucket(), err)
		}
		if time.Since(started) > 5*time.Second {
			backoff = 50 * time.Millisecond
			continue
		}
		// A watcher that ended quickly may end quickly again: do not spin.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// bucketGone reports whether err says the bucket's stream does not exist: retrying will not help.
func bucketGone(err error) bool {
	return errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) ||
		errors.Is(err, nats.ErrStreamNotFound) || errors.Is(err, nats.ErrBucketNotFound)
}

// watchState carries what one Watch call has delivered across watcher restarts.
type watchState struct {
	fn      func(StoreChange)
	synced  bool
	lastRev uint64
}

// pump delivers the watcher's entries until ctx ends (nil), the connection closes (an error) or the
// watcher must be replaced (nil, with ctx still live).
func (st *watchState) pump(ctx context.Context, w jetstream.KeyWatcher, status <-chan nats.Status) error {
	for {
		select {
		case <-ctx.Done():
			st.stop(w)
			return nil
		case s, ok := <-status:
			if !ok || s == nats.CLOSED {
				st.stop(w)
				return nats.ErrConnectionClosed
			}
			// Connected again after an outage: the server may have restarted and the consumer
			// behind the watcher may be gone. Resume on a fresh one.
			st.stop(w)
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil // the watcher ended under us; Watch decides whether to resume
			}
			st.deliver(e)
		}
	}
}

// stop ends a watcher, delivering what it had already received so no revision is skipped.
func (st *watchState) stop(w jetstream.KeyWatcher) {
	// Stop unsubscribes at once (which closes the channel), then deletes the consumer with a
	// request that takes its full timeout while the server is away: do not wait for it.
	go func() { _ = w.Stop() }()
	timeout := time.NewTimer(2 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			st.deliver(e)
		case <-timeout.C:
			// Keep the subscription's goroutine from blocking on a channel nobody reads.
			go func() {
				for range w.Updates() {
				}
			}()
			return
		}
	}
}

func (st *watchState) deliver(e jetstream.KeyValueEntry) {
	if e == nil {
		if !st.synced {
			st.synced = true
			st.fn(StoreChange{Op: OpSynced})
		}
		return
	}
	if e.Revision() <= st.lastRev {
		return // already delivered by a previous watcher
	}
	st.lastRev = e.Revision()
	op := OpPut
	if e.Operation() == jetstream.KeyValueDelete || e.Operation() == jetstream.KeyValuePurge {
		op = OpDelete
	}
	if op == OpDelete && !st.synced {
		return
	}
	c := decodeStoreChange(op, e.Key(), e.Value())
	c.Revision = e.Revision()
	st.fn(c)
}

// decodeStoreChange classifies a key of the lattice bucket and decodes the value of a put. It never
// fails: a value it cannot decode is reported in DecodeErr.
func decodeStoreChange(op StoreOp, key string, raw []byte) StoreChange {
	c := StoreChange{Op: op, Key: key, Kind: entryKind(key)}
	c.ID = strings.TrimPrefix(key, entryPrefix(c.Kind))
	if c.Kind == KindOther {
		c.ID = key
	}
	if op == OpDelete {
		switch c.Kind {
		case KindLink:
			c.Link = &LinkDefinition{ID: c.ID}
		case KindRefMap:
			r := RefMap{}
			if u, err := base64.RawURLEncoding.DecodeString(c.ID); err == nil {
				r.OCIURL = string(u)
			}
			c.RefMap = &r
		}
		return c
	}
	c.Raw = raw
	switch c.Kind {
	case KindLink:
		l, err := decodeLink(key, raw)
		c.Link, c.DecodeErr = &l, err
	case KindClaims:
		claims, err := decodeClaims(key, raw)
		if err == nil {
			claims, err = verifyClaimsEntry(key, claims, time.Now())
		}
		c.Claims, c.DecodeErr = claims, err
	case KindRefMap:
		r, err := decodeRefMap(key, raw)
		c.RefMap, c.DecodeErr = &r, err
	}
	return c
}

func entryKind(key string) StoreKind {
	switch {
	case strings.HasPrefix(key, LinkKeyPrefix):
		return KindLink
	case strings.HasPrefix(key, ClaimsKeyPrefix):
		return KindClaims
	case strings.HasPrefix(key, refMapKeyPrefix):
		return KindRefMap
	}
	return KindOther
}

func entryPrefix(k StoreKind) string {
	switch k {
	case KindLink:
		return LinkKeyPrefix
	case KindClaims:
		return ClaimsKeyPrefix
	case KindRefMap:
		return refMapKeyPrefix
	}
	return ""
}

// decodeLink reads a stored link. The id is always the key's; the link name defaults and the
// values are never nil. It returns what it decoded even when it also returns an error.
func decodeLink(key string, raw []byte) (LinkDefinition, error) {
	var l LinkDefinition
	if err := json.Unmarshal(raw, &l); err != nil {
		return LinkDefinition{ID: strings.TrimPrefix(key, LinkKeyPrefix)}, malformedEntry(key, err)
	}
	l.ID = strings.TrimPrefix(key, LinkKeyPrefix)
	l.Status = ""
	l.LinkName = orDefault(l.LinkName, DefaultLinkName)
	if l.Values == nil {
		l.Values = map[string]string{}
	}
	if err := l.Validate(); err != nil {
		return l, malformedEntry(key, err)
	}
	return l, nil
}

// decodeClaims reads a stored claims map; a missing "sub" is taken from the key.
func decodeClaims(key string, raw []byte) (map[string]string, error) {
	var c map[string]string
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, malformedEntry(key, err)
	}
	if c == nil {
		return nil, malformedEntry(key, errors.New("null claims"))
	}
	if c["sub"] == "" {
		c["sub"] = strings.TrimPrefix(key, ClaimsKeyPrefix)
	}
	return c, nil
}

// decodeRefMap reads a stored reference map; a missing oci_url is taken from the key.
func decodeRefMap(key string, raw []byte) (RefMap, error) {
	var r RefMap
	if err := json.Unmarshal(raw, &r); err != nil {
		return RefMap{}, malformedEntry(key, err)
	}
	if r.OCIURL == "" {
		if u, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(key, refMapKeyPrefix)); err == nil {
			r.OCIURL = string(u)
		}
	}
	if r.OCIURL == "" {
		return r, malformedEntry(key, errors.New("oci_url is empty"))
	}
	if r.PublicKey == "" {
		return r, malformedEntry(key, errors.New("public_key is empty"))
	}
	return r, nil
}

func malformedEntry(key string, err error) error {
	return fmt.Errorf("%w %s: %v", ErrMalformedEntry, key, err)
}
