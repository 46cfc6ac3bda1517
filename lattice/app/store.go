package app

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/oam"
)

// Store errors, for branching with errors.Is.
var (
	// ErrNotFound: no app, or no version, of that name.
	ErrNotFound = errors.New("not found")
	// ErrVersionExists: a put of a version that exists with another manifest.
	ErrVersionExists = errors.New("version already exists with another manifest")
	// ErrDeployed: a delete of what is deployed.
	ErrDeployed = errors.New("is deployed")
	// ErrInvalidName: a name that cannot be an app's.
	ErrInvalidName = errors.New("invalid app name")
)

// Key prefixes in the apps bucket.
const (
	RecordKeyPrefix = "APP_"
	StatusKeyPrefix = "STATUS_"
)

// BucketName is the apps bucket of a lattice.
func BucketName(latticeName string) string { return lattice.NewSubjects(latticeName).AppsBucket() }

// Store is a lattice's applications bucket. It is safe for concurrent use.
type Store struct {
	kv      jetstream.KeyValue
	lattice string
	now     func() time.Time
}

// OpenStore binds to the lattice's apps bucket, creating it (history 1, the given replicas, at
// least 1) when it does not exist; an existing bucket is used as it is.
func OpenStore(ctx context.Context, js jetstream.JetStream, latticeName string, replicas int) (*Store, error) {
	if latticeName == "" {
		latticeName = lattice.DefaultLattice
	}
	kv, err := openBucket(ctx, js, jetstream.KeyValueConfig{
		Bucket:      BucketName(latticeName),
		Description: "lattice " + latticeName + ": application manifests, deployments and status",
		History:     1,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("open apps store: %w", err)
	}
	return &Store{kv: kv, lattice: latticeName, now: time.Now}, nil
}

func openBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, cfg.Bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// Bucket is the name of the apps bucket.
func (s *Store) Bucket() string { return s.kv.Bucket() }

// Lattice is the lattice the store belongs to.
func (s *Store) Lattice() string { return s.lattice }

// PutResult says what a put stored.
type PutResult struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Created is false when that version existed with the same manifest (nothing changed).
	Created bool `json:"created"`
}

// Put stores a manifest as a new version of its app. The manifest is validated first; one without
// a version annotation gets a generated one (time-ordered, as wadm does). A version that exists
// with the same manifest is left as it is; with another manifest the put is refused
// (ErrVersionExists). Owner is recorded as the app's owner ("" for a user).
func (s *Store) Put(ctx context.Context, m *oam.Manifest, owner string) (PutResult, error) {
	if err := m.Validate(); err != nil {
		return PutResult{}, err
	}
	m = m.Clone()
	given := m.Version()
	res := PutResult{Name: m.Metadata.Name}
	err := s.update(ctx, m.Metadata.Name, true, func(r *Record) error {
		m := m.Clone() // each attempt starts from the manifest as given
		v := given
		if v == "" {
			// Without a version, the same manifest put again (by every host of a release at each
			// start) is the version it got the first time.
			v = r.unversioned(m)
			if v == "" {
				v = newVersion(s.now())
			}
			if m.Metadata.Annotations == nil {
				m.Metadata.Annotations = map[string]string{}
			}
			m.Metadata.Annotations[oam.AnnotationVersion] = v
		}
		res.Version = v
		if old, ok := r.Find(v); ok {
			if !sameManifest(old.Manifest, m) {
				return fmt.Errorf("put app %s version %s: %w; give the manifest a new version annotation", r.Name, v, ErrVersionExists)
			}
			res.Created = false
			if r.Owner == owner {
				return errUnchanged
			}
			r.Owner = owner
			return nil
		}
		res.Created = true
		r.Versions = append(r.Versions, Version{Version: v, Manifest: m, PutAt: s.now().UTC()})
		r.Owner = owner
		return nil
	})
	return res, err
}

// Deploy makes version v (the latest when "") the app's deployed version and returns it.
func (s *Store) Deploy(ctx context.Context, name, v string) (string, error) {
	err := s.update(ctx, name, false, func(r *Record) error {
		target := r.Latest()
		if v != "" {
			var err error
			if target, err = r.Version(v); err != nil {
				return fmt.Errorf("deploy %w", err)
			}
		}
		if target == nil {
			return fmt.Errorf("deploy app %s: no version stored: %w", name, ErrNotFound)
		}
		v = target.Version
		if r.Deployed == v {
			return errUnchanged
		}
		r.Deployed = v
		target.DeployedAt = s.now().UTC()
		return nil
	})
	return v, err
}

// Undeploy marks the app as undeployed; the reconciler then removes what it started for it. An
// app that is not deployed is left as it is.
func (s *Store) Undeploy(ctx context.Context, name string) error {
	return s.update(ctx, name, false, func(r *Record) error {
		if r.Deployed == "" {
			return errUnchanged
		}
		r.Deployed = ""
		return nil
	})
}

// Delete removes version v of an app, or the whole app when v is "". What is deployed cannot be
// deleted (ErrDeployed): undeploy it, or deploy another version, first.
func (s *Store) Delete(ctx context.Context, name, v string) error {
	return s.update(ctx, name, false, func(r *Record) error {
		if v == "" {
			if r.Deployed != "" {
				return fmt.Errorf("delete app %s: version %s %w: undeploy it first", name, r.Deployed, ErrDeployed)
			}
			r.Versions = nil
			return nil
		}
		if _, err := r.Version(v); err != nil {
			return fmt.Errorf("delete %w", err)
		}
		if r.Deployed == v {
			return fmt.Errorf("delete app %s: version %s %w: undeploy it or deploy another version first", name, v, ErrDeployed)
		}
		r.Versions = slices.DeleteFunc(r.Versions, func(x Version) bool { return x.Version == v })
		return nil
	})
}

// Get returns one app.
func (s *Store) Get(ctx context.Context, name string) (*Record, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	e, err := s.kv.Get(ctx, RecordKeyPrefix+name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("app %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get app %s from %s: %w", name, s.Bucket(), err)
	}
	return decodeRecord(e)
}

// List returns every app, sorted by name. Entries that cannot be decoded are reported in the
// error, alongside the apps that could be read.
func (s *Store) List(ctx context.Context) ([]Record, error) {
	var out []Record
	var bad []error
	err := s.each(ctx, RecordKeyPrefix, func(e jetstream.KeyValueEntry) {
		r, err := decodeRecord(e)
		if err != nil {
			bad = append(bad, err)
			return
		}
		out = append(out, *r)
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Record) int { return strings.Compare(a.Name, b.Name) })
	return out, errors.Join(bad...)
}

// PutStatus stores an app's status.
func (s *Store) PutStatus(ctx context.Context, st Status) error {
	if err := CheckName(st.Name); err != nil {
		return err
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("status of app %s: %w", st.Name, err)
	}
	if _, err := s.kv.Put(ctx, StatusKeyPrefix+st.Name, raw); err != nil {
		return fmt.Errorf("put status of app %s in %s: %w", st.Name, s.Bucket(), err)
	}
	return nil
}

// DeleteStatus removes an app's status (once nothing of a deleted app is left).
func (s *Store) DeleteStatus(ctx context.Context, name string) error {
	if err := s.kv.Delete(ctx, StatusKeyPrefix+name); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete status of app %s from %s: %w", name, s.Bucket(), err)
	}
	return nil
}

// Status returns an app's last stored status.
func (s *Store) Status(ctx context.Context, name string) (*Status, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	e, err := s.kv.Get(ctx, StatusKeyPrefix+name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("status of app %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get status of app %s from %s: %w", name, s.Bucket(), err)
	}
	var st Status
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return nil, fmt.Errorf("status of app %s: %w: %v", name, lattice.ErrMalformedEntry, err)
	}
	return &st, nil
}

// Statuses returns every stored status by app name.
func (s *Store) Statuses(ctx context.Context) (map[string]Status, error) {
	out := map[string]Status{}
	var bad []error
	err := s.each(ctx, StatusKeyPrefix, func(e jetstream.KeyValueEntry) {
		var st Status
		if err := json.Unmarshal(e.Value(), &st); err != nil {
			bad = append(bad, fmt.Errorf("%s: %w: %v", e.Key(), lattice.ErrMalformedEntry, err))
			return
		}
		out[st.Name] = st
	})
	if err != nil {
		return nil, err
	}
	return out, errors.Join(bad...)
}

// Change is one change in the apps bucket: a record or a status put (Record or Status set) or
// deleted (both nil), with the app's name.
type Change struct {
	// Key is the entry's key: RecordKeyPrefix or StatusKeyPrefix and the name.
	Key     string
	Name    string
	Deleted bool
	Record  *Record
	Status  *Status
	// Synced marks the end of the initial replay; no other field is set.
	Synced bool
}

// Watch calls fn for the current value of every key, then Synced, then for every change, until
// ctx ends (nil) or the watch fails.
func (s *Store) Watch(ctx context.Context, fn func(Change)) error {
	w, err := s.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch %s: %w", s.Bucket(), err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("watch %s: watcher stopped", s.Bucket())
			}
			if e == nil {
				fn(Change{Synced: true})
				continue
			}
			fn(decodeChange(e))
		}
	}
}

func decodeChange(e jetstream.KeyValueEntry) Change {
	key := e.Key()
	deleted := e.Operation() != jetstream.KeyValuePut
	switch {
	case strings.HasPrefix(key, RecordKeyPrefix):
		c := Change{Key: key, Name: strings.TrimPrefix(key, RecordKeyPrefix), Deleted: deleted}
		if !deleted {
			if r, err := decodeRecord(e); err == nil {
				c.Record = r
			}
		}
		return c
	case strings.HasPrefix(key, StatusKeyPrefix):
		c := Change{Key: key, Name: strings.TrimPrefix(key, StatusKeyPrefix), Deleted: deleted}
		if !deleted {
			var st Status
			if json.Unmarshal(e.Value(), &st) == nil {
				c.Status = &st
			}
		}
		return c
	}
	return Change{Key: key, Name: key, Deleted: deleted}
}

// errUnchanged ends an update without writing.
var errUnchanged = errors.New("unchanged")

// update reads an app's record, lets change edit it and writes it back with compare-and-set,
// retrying when another writer came first. create allows a record that does not exist yet.
// A record left without versions is deleted.
func (s *Store) update(ctx context.Context, name string, create bool, change func(*Record) error) error {
	if err := CheckName(name); err != nil {
		return err
	}
	key := RecordKeyPrefix + name
	for attempt := 0; ; attempt++ {
		r := &Record{Name: name}
		e, err := s.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			if !create {
				return fmt.Errorf("app %s: %w", name, ErrNotFound)
			}
		case err != nil:
			return fmt.Errorf("get app %s from %s: %w", name, s.Bucket(), err)
		default:
			if r, err = decodeRecord(e); err != nil {
				return err
			}
		}
		if err := change(r); err != nil {
			if errors.Is(err, errUnchanged) {
				return nil
			}
			return err
		}
		if len(r.Versions) == 0 {
			err = s.kv.Delete(ctx, key, jetstream.LastRevision(r.revision))
		} else {
			var raw []byte
			if raw, err = json.Marshal(r); err != nil {
				return fmt.Errorf("app %s: %w", name, err)
			}
			if r.revision == 0 {
				_, err = s.kv.Create(ctx, key, raw)
			} else {
				_, err = s.kv.Update(ctx, key, raw, r.revision)
			}
		}
		if err == nil {
			return nil
		}
		if conflict(err) && attempt < 20 {
			continue
		}
		return fmt.Errorf("write app %s to %s: %w", name, s.Bucket(), err)
	}
}

// conflict reports whether err says another writer changed the key first.
func conflict(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

func decodeRecord(e jetstream.KeyValueEntry) (*Record, error) {
	var r Record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", e.Key(), lattice.ErrMalformedEntry, err)
	}
	for _, v := range r.Versions {
		if v.Manifest == nil {
			return nil, fmt.Errorf("%s: %w: version %s has no manifest", e.Key(), lattice.ErrMalformedEntry, v.Version)
		}
	}
	r.revision = e.Revision()
	return &r, nil
}

func (s *Store) each(ctx context.Context, prefix string, fn func(jetstream.KeyValueEntry)) error {
	entries, err := lattice.KVEntries(ctx, s.kv)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Key(), prefix) {
			fn(e)
		}
	}
	return nil
}

// unversioned returns the latest version whose manifest is m but for its version annotation.
func (r *Record) unversioned(m *oam.Manifest) string {
	for i := len(r.Versions) - 1; i >= 0; i-- {
		c := r.Versions[i].Manifest.Clone()
		delete(c.Metadata.Annotations, oam.AnnotationVersion)
		if len(c.Metadata.Annotations) == 0 {
			c.Metadata.Annotations = nil
		}
		if sameManifest(c, m) {
			return r.Versions[i].Version
		}
	}
	return ""
}

// CheckName refuses names that cannot be a key (ErrInvalidName): the manifest's own validation
// is stricter.
func CheckName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrInvalidName)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w %q: only letters, digits, '-' and '_'", ErrInvalidName, name)
		}
	}
	return nil
}

// newVersion makes a time-ordered version for a manifest that has none: a ULID (Crockford
// base32 of 48 bits of milliseconds and 80 random bits), as wadm generates.
func newVersion(t time.Time) string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var b [16]byte
	ms := uint64(t.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:])
	// 128 bits → 26 characters, 5 bits each, the first holding the top 3 bits.
	var out [26]byte
	hi := uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 | uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
	lo := uint64(b[8])<<56 | uint64(b[9])<<48 | uint64(b[10])<<40 | uint64(b[11])<<32 | uint64(b[12])<<24 | uint64(b[13])<<16 | uint64(b[14])<<8 | uint64(b[15])
	for i := 25; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
