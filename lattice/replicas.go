package lattice

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// MaxReplicas is the largest replica count JetStream accepts for a stream.
const MaxReplicas = 5

// Bucket kinds.
const (
	BucketKV     = "kv"
	BucketObject = "object"
)

// Bucket is one of the JetStream buckets a lattice keeps its state in. Each is a stream, whose
// replicas say how many NATS servers hold a copy.
type Bucket struct {
	Name string `json:"name"`
	// Kind is BucketKV or BucketObject.
	Kind string `json:"kind"`
	// Holds says what the bucket holds, for people.
	Holds string `json:"holds"`
}

// Stream is the name of the JetStream stream behind the bucket.
func (b Bucket) Stream() string {
	if b.Kind == BucketObject {
		return "OBJ_" + b.Name
	}
	return "KV_" + b.Name
}

// Buckets are the lattice's JetStream buckets: the lattice data (links, claims, refmaps), the
// declarative apps and the reconciler lease (package lattice/app), and the chunk store of large
// payloads.
func (s Subjects) Buckets() []Bucket {
	return []Bucket{
		{Name: s.Bucket(), Kind: BucketKV, Holds: "links, claims and OCI reference maps"},
		{Name: s.AppsBucket(), Kind: BucketKV, Holds: "application manifests, deployments and status"},
		{Name: s.LeaseBucket(), Kind: BucketKV, Holds: "the reconciler lease"},
		{Name: s.ObjectStore(), Kind: BucketObject, Holds: "chunked invocation payloads"},
	}
}

// AppsBucket is the KV bucket of the lattice's declarative apps.
func (s Subjects) AppsBucket() string { return "TRELLIS_APPS_" + s.Lattice }

// LeaseBucket is the KV bucket of the lattice's reconciler lease.
func (s Subjects) LeaseBucket() string { return "TRELLIS_LEASE_" + s.Lattice }

// CheckReplicas reports whether n is a replica count JetStream accepts (1 to MaxReplicas).
func CheckReplicas(n int) error {
	if n < 1 || n > MaxReplicas {
		return fmt.Errorf("replicas %d: want 1 to %d (JetStream's limit; 3 for a three-server cluster)", n, MaxReplicas)
	}
	return nil
}

// BucketState is where a bucket's copies stand.
type BucketState struct {
	Bucket
	Stream string `json:"stream"`
	// Exists is false when the bucket has not been created yet; the other fields are then zero.
	Exists bool `json:"exists"`
	// Replicas is the stream's configured replica count.
	Replicas int `json:"replicas"`
	// Cluster is the NATS cluster holding it ("" on a single server without a cluster).
	Cluster string `json:"cluster,omitempty"`
	// Leader is the server that leads the stream's copies.
	Leader string `json:"leader,omitempty"`
	// Current is how many copies, the leader's included, are up to date.
	Current int `json:"current"`
	// Peers are the servers holding the other copies.
	Peers []BucketPeer `json:"peers,omitempty"`
}

// BucketPeer is a server holding a copy of a bucket that does not lead it.
type BucketPeer struct {
	Name    string `json:"name"`
	Current bool   `json:"current"`
	Offline bool   `json:"offline,omitempty"`
	Lag     uint64 `json:"lag,omitempty"`
}

// Below reports whether the bucket exists with fewer replicas than want.
func (b BucketState) Below(want int) bool { return b.Exists && b.Replicas < want }

// BucketStateOf reads the state of a bucket's stream; a bucket that does not exist is reported
// with Exists false, not as an error.
func BucketStateOf(ctx context.Context, js jetstream.JetStream, b Bucket) (BucketState, error) {
	st := BucketState{Bucket: b, Stream: b.Stream()}
	s, err := js.Stream(ctx, st.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("bucket %s (stream %s): %w", b.Name, st.Stream, err)
	}
	info := s.CachedInfo()
	st.Exists = true
	st.Replicas = max(info.Config.Replicas, 1)
	st.Current = 1
	if c := info.Cluster; c != nil {
		st.Cluster, st.Leader = c.Name, c.Leader
		if c.Leader == "" {
			st.Current = 0
		}
		for _, p := range c.Replicas {
			if p == nil {
				continue
			}
			st.Peers = append(st.Peers, BucketPeer{Name: p.Name, Current: p.Current, Offline: p.Offline, Lag: p.Lag})
			if p.Current && !p.Offline {
				st.Current++
			}
		}
		slices.SortFunc(st.Peers, func(a, b BucketPeer) int { return cmp.Compare(a.Name, b.Name) })
	}
	return st, nil
}

// BucketStates reads the state of every bucket of the lattice (Subjects.Buckets), in that order.
func BucketStates(ctx context.Context, js jetstream.JetStream, latticeName string) ([]BucketState, error) {
	var out []BucketState
	for _, b := range NewSubjects(latticeName).Buckets() {
		st, err := BucketStateOf(ctx, js, b)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// ErrBucketNotFound: a raise of a bucket that does not exist.
var ErrBucketNotFound = errors.New("bucket does not exist")

// RaiseReplicas raises the replicas of a bucket's stream to want and returns the count it had.
// It never lowers them: a bucket with as many replicas or more is left as it is (and its count
// returned). JetStream copies the data to the new peers itself; a cluster with fewer than want
// servers refuses, and the error says so.
func RaiseReplicas(ctx context.Context, js jetstream.JetStream, b Bucket, want int) (int, error) {
	if err := CheckReplicas(want); err != nil {
		return 0, fmt.Errorf("raise bucket %s: %w", b.Name, err)
	}
	s, err := js.Stream(ctx, b.Stream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, fmt.Errorf("raise bucket %s to %d replicas: %w (stream %s)", b.Name, want, ErrBucketNotFound, b.Stream())
	}
	if err != nil {
		return 0, fmt.Errorf("raise bucket %s to %d replicas: stream %s: %w", b.Name, want, b.Stream(), err)
	}
	cfg := s.CachedInfo().Config
	had := max(cfg.Replicas, 1)
	if had >= want {
		return had, nil
	}
	cfg.Replicas = want
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		return had, fmt.Errorf("raise bucket %s from %d to %d replicas (does the NATS cluster have %d JetStream servers?): %w", b.Name, had, want, want, err)
	}
	return had, nil
}

// jsReplicasNotSupported is JetStream's error code for replicas over 1 on a server that is not
// in a cluster.
const jsReplicasNotSupported jetstream.ErrorCode = 10074

// ReplicasUnsupported reports whether err is JetStream refusing more than one replica because
// the server is not part of a cluster: waiting does not cure it.
func ReplicasUnsupported(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jsReplicasNotSupported
}
