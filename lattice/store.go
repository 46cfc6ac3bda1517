package lattice

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Store errors, for branching with errors.Is.
var (
	// ErrLinkNotFound means no link exists for an (actor, contract, link name) triple.
	ErrLinkNotFound = errors.New("link not found")
	// ErrMalformedEntry means a value in the lattice bucket is not valid JSON of the shape its key
	// promises, or fails validation. Clients may write the bucket directly, so this can happen.
	ErrMalformedEntry = errors.New("malformed lattice data entry")
)

// Store is the lattice state kept in the JetStream KV bucket LATTICEDATA_{L}: links under
// LINKDEF_{id}, claims under CLAIMS_{pk} and OCI reference maps under REFMAP_{b64url(ref)}
// (PROTOCOL.md §8). Hosts, the CLI and the dashboard share it; clients may also write it directly,
// so every reader tolerates entries it cannot decode and reports them.
//
// A Store is safe for concurrent use.
type Store struct {
	js      jetstream.JetStream
	kv      jetstream.KeyValue
	lattice string
}

// OpenStore binds to the lattice's bucket, creating it when it does not exist with history 1 and
// the given number of replicas (1 when replicas < 1). An existing bucket is used as it is, so a
// bucket made by another host keeps its settings.
func OpenStore(ctx context.Context, js jetstream.JetStream, lattice string, replicas int) (*Store, error) {
	if lattice == "" {
		lattice = DefaultLattice
	}
	if err := checkLatticeName(lattice); err != nil {
		return nil, fmt.Errorf("open lattice store: %w", err)
	}
	if replicas < 1 {
		replicas = 1
	}
	bucket := NewSubjects(lattice).Bucket()
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      bucket,
			Description: "lattice " + lattice + ": links, claims and OCI reference maps",
			History:     1,
			Replicas:    replicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			// Another host created it between our lookup and our create.
			kv, err = js.KeyValue(ctx, bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open lattice store %s: %w", bucket, err)
	}
	return &Store{js: js, kv: kv, lattice: lattice}, nil
}

// Bucket returns the name of the KV bucket, LATTICEDATA_{L}.
func (s *Store) Bucket() string { return s.kv.Bucket() }

// Lattice returns the lattice the store belongs to.
func (s *Store) Lattice() string { return s.lattice }

// PutLink normalizes and validates a link, then stores it under its key. The stored JSON carries
// the id and the optional jwt but never the Status field.
func (s *Store) PutLink(ctx context.Context, l LinkDefinition) error {
	l.Values = maps.Clone(l.Values)
	l.Normalize()
	if err := l.Validate(); err != nil {
		return fmt.Errorf("put link %s: %w", l.ID, err)
	}
	l.Status = ""
	raw, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("put link %s: %w", l.ID, err)
	}
	// Copies of the triple that older clients stored under other keys go, or a restart or the
	// applier would read them as links still in effect.
	found, err := s.linkEntries(ctx, l.ActorID, l.ContractID, l.LinkName, true)
	if err != nil {
		return fmt.Errorf("put link %s: %w", l.ID, err)
	}
	if _, err := s.kv.Put(ctx, l.Key(), raw); err != nil {
		return fmt.Errorf("put link %s in %s: %w", l.ID, s.Bucket(), err)
	}
	for _, f := range found {
		if f.key == l.Key() {
			continue
		}
		if err := s.kv.Delete(ctx, f.key); err != nil {
			return fmt.Errorf("put link %s: stored, but the older copy %s stays: %w", l.ID, f.key, err)
		}
	}
	return nil
}

// Link returns the link of a triple (an empty link name means "default"). It is looked up under
// its key; a link a client stored under another key (older clients used random ids) is found too.
func (s *Store) Link(ctx context.Context, actorID, contractID, linkName string) (LinkDefinition, error) {
	found, err := s.linkEntries(ctx, actorID, contractID, linkName, false)
	if err != nil {
		return LinkDefinition{}, err
	}
	if len(found) == 0 {
		return LinkDefinition{}, linkNotFound(actorID, contractID, linkName)
	}
	if found[0].bad != nil {
		return LinkDefinition{}, found[0].bad
	}
	return found[0].link, nil
}

// DeleteLink removes the link of a triple, under its key and any other key an older client
// stored it under, and returns what was deleted. It returns an error wrapping ErrLinkNotFound,
// naming the triple, when there is no such link. An entry under the link's own key is deleted
// even when its value is malformed; the returned link then holds only what could be decoded.
func (s *Store) DeleteLink(ctx context.Context, actorID, contractID, linkName string) (LinkDefinition, error) {
	found, err := s.linkEntries(ctx, actorID, contractID, linkName, true)
	if err != nil {
		return LinkDefinition{}, err
	}
	if len(found) == 0 {
		return LinkDefinition{}, linkNotFound(actorID, contractID, linkName)
	}
	for _, f := range found {
		if err := s.kv.Delete(ctx, f.key); err != nil {
			return LinkDefinition{}, fmt.Errorf("delete link %s from %s: %w", f.key, s.Bucket(), err)
		}
	}
	return found[0].link, nil
}

// foundLink is the entry of a link: its key, what was decoded, and why the value is malformed, if
// it is.
type foundLink struct {
	key  string
	link LinkDefinition
	bad  error
}

// linkEntries returns the entries of a triple: the one under its own key first (even when its
// value is malformed), then those stored under other keys. Unless all, it stops at its own key.
func (s *Store) linkEntries(ctx context.Context, actorID, contractID, linkName string, all bool) ([]foundLink, error) {
	linkName = orDefault(linkName, DefaultLinkName)
	same := func(l LinkDefinition) bool {
		return l.ActorID == actorID && l.ContractID == contractID && l.LinkName == linkName
	}
	key := LinkKeyPrefix + LinkID(actorID, contractID, linkName)
	var found []foundLink
	entry, err := s.kv.Get(ctx, key)
	switch {
	case err == nil:
		l, bad := decodeLink(key, entry.Value())
		if bad != nil || same(l) {
			found = append(found, foundLink{key: key, link: l, bad: bad})
		}
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, fmt.Errorf("get link %s from %s: %w", key, s.Bucket(), err)
	}
	if len(found) > 0 && !all {
		return found, nil
	}
	entries, err := s.entries(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Key() == key || entryKind(e.Key()) != KindLink {
			continue
		}
		if l, bad := decodeLink(e.Key(), e.Value()); bad == nil && same(l) {
			found = append(found, foundLink{key: e.Key(), link: l})
		}
	}
	return found, nil
}

func linkNotFound(actorID, contractID, linkName string) error {
	return fmt.Errorf("%w: actor %s, contract %s, link name %s", ErrLinkNotFound,
		actorID, contractID, orDefault(linkName, DefaultLinkName))
}

// Links returns every link in the bucket, sorted by actor, contract, link name and id. Entries
// that cannot be decoded or are invalid are left out and reported together in an error wrapping
// ErrMalformedEntry, returned alongside the links that could be read.
func (s *Store) Links(ctx context.Context) ([]LinkDefinition, error) {
	entries, err := s.entries(ctx)
	if err != nil {
		return nil, err
	}
	links := []LinkDefinition{}
	var bad []error
	for _, e := range entries {
		if entryKind(e.Key()) != KindLink {
			continue
		}
		l, err := decodeLink(e.Key(), e.Value())
		if err != nil {
			bad = append(bad, err)
			continue
		}
		links = append(links, l)
	}
	slices.SortFunc(links, func(a, b LinkDefinition) int {
		return cmp.Or(
			cmp.Compare(a.ActorID, b.ActorID),
			cmp.Compare(a.ContractID, b.ContractID),
			cmp.Compare(a.LinkName, b.LinkName),
			cmp.Compare(a.ID, b.ID),
		)
	})
	return links, s.malformed("links", bad)
}

// PutClaims stores signed claims of an actor or provider under CLAIMS_{subject}: the get.claims
// string map and, under ClaimsTokenField, the token itself, so that every reader can verify the
// entry (VerifyClaimsToken). A token that does not verify is refused.
func (s *Store) PutClaims(ctx context.Context, token string) error {
	subject, claims, err := VerifyClaimsToken(token, time.Now())
	if err != nil {
		return fmt.Errorf("put claims: %w", err)
	}
	raw, err := json.Marshal(withToken(claims, strings.TrimSpace(token)))
	if err != nil {
		return fmt.Errorf("put claims %s: %w", subject, err)
	}
	// Every host that starts an actor puts its claims, and every host's watch decodes and verifies
	// each put: on a lattice of many hosts, rewriting an unchanged entry costs hosts × starts
	// signature checks for nothing. An entry that already says the same is left as it is.
	if e, err := s.kv.Get(ctx, ClaimsKey(subject)); err == nil && bytes.Equal(e.Value(), raw) {
		return nil
	}
	if _, err := s.kv.Put(ctx, ClaimsKey(subject), raw); err != nil {
		return fmt.Errorf("put claims %s in %s: %w", subject, s.Bucket(), err)
	}
	return nil
}

// Claims returns the claims map of every verified CLAIMS_ entry (taken from its token, without
// the token), sorted by "sub". Malformed entries, wrapping ErrMalformedEntry, and unverified ones,
// wrapping ErrUnverifiedClaims, are left out and reported as in Links.
func (s *Store) Claims(ctx context.Context) ([]map[string]string, error) {
	entries, err := s.entries(ctx)
	if err != nil {
		return nil, err
	}
	claims := []map[string]string{}
	var bad []error
	for _, e := range entries {
		if entryKind(e.Key()) != KindClaims {
			continue
		}
		c, err := decodeClaims(e.Key(), e.Value())
		if err == nil {
			c, err = verifyClaimsEntry(e.Key(), c, time.Now())
		}
		if err != nil {
			bad = append(bad, err)
			continue
		}
		claims = append(claims, c)
	}
	slices.SortFunc(claims, func(a, b map[string]string) int { return cmp.Compare(a["sub"], b["sub"]) })
	return claims, s.malformed("claims", bad)
}

// PutRefMap records which key an OCI reference holds, under REFMAP_{b64url(ref)}.
func (s *Store) PutRefMap(ctx context.Context, r RefMap) error {
	if strings.TrimSpace(r.OCIURL) == "" {
		return errors.New("put refmap: oci_url is empty")
	}
	if _, _, err := decodePublicKey(r.PublicKey); err != nil {
		return fmt.Errorf("put refmap %s: public_key: %w", r.OCIURL, err)
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("put refmap %s: %w", r.OCIURL, err)
	}
	if _, err := s.kv.Put(ctx, RefMapKey(r.OCIURL), raw); err != nil {
		return fmt.Errorf("put refmap %s in %s: %w", r.OCIURL, s.Bucket(), err)
	}
	return nil
}

// RefMaps returns every stored reference map, sorted by OCI URL. Malformed entries are handled as
// in Links.
func (s *Store) RefMaps(ctx context.Context) ([]RefMap, error) {
	entries, err := s.entries(ctx)
	if err != nil {
		return nil, err
	}
	refs := []RefMap{}
	var bad []error
	for _, e := range entries {
		if entryKind(e.Key()) != KindRefMap {
			continue
		}
		r, err := decodeRefMap(e.Key(), e.Value())
		if err != nil {
			bad = append(bad, err)
			continue
		}
		refs = append(refs, r)
	}
	slices.SortFunc(refs, func(a, b RefMap) int { return cmp.Compare(a.OCIURL, b.OCIURL) })
	return refs, s.malformed("refmaps", bad)
}

// entries reads the current value of every key (deleted keys left out) in one consistent pass.
func (s *Store) entries(ctx context.Context) ([]jetstream.KeyValueEntry, error) {
	return KVEntries(ctx, s.kv)
}

// KVEntries reads the current value of every key of a KV bucket in one pass (a watch that stops
// at the end of its replay), not a request per key.
func KVEntries(ctx context.Context, kv jetstream.KeyValue) ([]jetstream.KeyValueEntry, error) {
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", kv.Bucket(), err)
	}
	defer w.Stop() //nolint:errcheck // nothing to do about a failed unsubscribe of a finished read
	var out []jetstream.KeyValueEntry
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("read %s: %w", kv.Bucket(), ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("read %s: watcher closed before the last value", kv.Bucket())
			}
			if e == nil {
				return out, nil
			}
			out = append(out, e)
		}
	}
}

func (s *Store) malformed(what string, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s in %s: %d skipped: %w", what, s.Bucket(), len(errs), errors.Join(errs...))
}

// ClaimsKey is the bucket key of a subject's claims, CLAIMS_{pk}.
func ClaimsKey(subject string) string { return ClaimsKeyPrefix + subject }

// RefMapKey is the bucket key of an OCI reference, REFMAP_{base64 url-safe, unpadded ref}.
func RefMapKey(ociURL string) string {
	return refMapKeyPrefix + base64.RawURLEncoding.EncodeToString([]byte(ociURL))
}

// checkLatticeName refuses lattice names that cannot be one NATS subject token and part of a
// JetStream bucket name.
func checkLatticeName(name string) error {
	if name == "" {
		return errors.New("lattice name is empty")
	}
	for _, r := range name {
		ok := r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return fmt.Errorf("lattice name %q: only letters, digits, '-' and '_' are allowed", short(name))
		}
	}
	return nil
}
