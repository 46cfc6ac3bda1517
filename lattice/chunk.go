package lattice

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Limits of the chunk store unless configured otherwise: a flood of large payloads fills at most
// DefaultChunkMaxBytes of the JetStream file store (links, claims and apps live in their own
// bucket, a stream of its own), and a payload nobody took is gone after DefaultChunkMaxAge.
const (
	DefaultChunkMaxBytes int64 = 256 << 20
	DefaultChunkMaxAge         = 5 * time.Minute
)

// ChunkLimits bound the chunk store. Zero values mean the defaults.
type ChunkLimits struct {
	// MaxBytes is the size of the store (the object store's MaxBytes): a payload that does not fit
	// is refused, the call fails with an error naming the store.
	MaxBytes int64
	// MaxAge is how long a payload stays (the object store's TTL): longer than any call.
	MaxAge time.Duration
	// Replicas is the store's replica count when this side creates it (0 or 1: one copy); an
	// existing store keeps its own.
	Replicas int
}

// Validate checks the limits.
func (l ChunkLimits) Validate() error {
	if l.MaxBytes < 0 {
		return fmt.Errorf("chunk store max bytes %d: must not be negative", l.MaxBytes)
	}
	if l.MaxAge < 0 {
		return fmt.Errorf("chunk store max age %s: must not be negative", l.MaxAge)
	}
	if l.MaxAge > 0 && l.MaxAge < InvocationLifetime {
		return fmt.Errorf("chunk store max age %s: must be at least an invocation's lifetime, %s", l.MaxAge, InvocationLifetime)
	}
	if l.Replicas != 0 {
		if err := CheckReplicas(l.Replicas); err != nil {
			return fmt.Errorf("chunk store: %w", err)
		}
	}
	return nil
}

func (l ChunkLimits) orDefaults() ChunkLimits {
	if l.MaxBytes == 0 {
		l.MaxBytes = DefaultChunkMaxBytes
	}
	if l.MaxAge == 0 {
		l.MaxAge = DefaultChunkMaxAge
	}
	return l
}

// Chunks moves payloads over MaxInlinePayload through the lattice's JetStream object store (named
// after the lattice), as upstream does: the object is named after the invocation id, a response
// after the id plus "-r". The store is bound, or created with its limits, on first use; a store
// that exists without limits gets them. Hosts, providers and the ctl client share it.
//
// A payload is deleted by its reader once read, and by the side that stored it when the call
// fails; what neither could delete (a process gone mid-call) expires after MaxAge. A delete
// leaves nothing behind in the stream, so the store returns to its size.
type Chunks struct {
	nc     *nats.Conn
	domain string
	name   string
	limits ChunkLimits
	log    zerolog.Logger
	mu     sync.Mutex
	obj    jetstream.ObjectStore
	stream jetstream.Stream
}

// NewChunks returns the chunk store of a lattice; domain is the JetStream domain, if any; limits
// apply when the store is created (zero values: the defaults).
func NewChunks(nc *nats.Conn, domain, lattice string, limits ChunkLimits, log zerolog.Logger) *Chunks {
	return &Chunks{nc: nc, domain: domain, name: NewSubjects(lattice).ObjectStore(), limits: limits.orDefaults(), log: log}
}

// Name is the object store's name.
func (c *Chunks) Name() string { return c.name }

// StreamName is the name of the JetStream stream behind the object store.
func (c *Chunks) StreamName() string { return "OBJ_" + c.name }

// Open binds the store now, creating it when it does not exist, rather than on first use: a host
// does so at start, so that the store is made with the host's limits and replicas.
func (c *Chunks) Open(ctx context.Context) error {
	_, _, err := c.bind(ctx)
	return err
}

func (c *Chunks) bind(ctx context.Context) (jetstream.ObjectStore, jetstream.Stream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.obj != nil {
		return c.obj, c.stream, nil
	}
	js, err := NewJetStream(c.nc, c.domain)
	if err != nil {
		return nil, nil, fmt.Errorf("object store %s: %w", c.name, err)
	}
	obj, err := js.ObjectStore(ctx, c.name)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obj, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      c.name,
			Description: "lattice " + c.name + ": chunked invocation payloads",
			TTL:         c.limits.MaxAge,
			MaxBytes:    c.limits.MaxBytes,
			Storage:     jetstream.FileStorage,
			Replicas:    max(c.limits.Replicas, 1),
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			obj, err = js.ObjectStore(ctx, c.name)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("object store %s (max bytes %d, max age %s): %w", c.name, c.limits.MaxBytes, c.limits.MaxAge, err)
	}
	stream, err := js.Stream(ctx, c.StreamName())
	if err != nil {
		return nil, nil, fmt.Errorf("object store %s: stream %s: %w", c.name, c.StreamName(), err)
	}
	if cfg := stream.CachedInfo().Config; cfg.MaxBytes <= 0 || cfg.MaxAge <= 0 {
		// A store made without limits (by an earlier version, or another client) gets ours.
		if cfg.MaxBytes <= 0 {
			cfg.MaxBytes = c.limits.MaxBytes
		}
		if cfg.MaxAge <= 0 {
			cfg.MaxAge = c.limits.MaxAge
		}
		if stream, err = js.UpdateStream(ctx, cfg); err != nil {
			return nil, nil, fmt.Errorf("object store %s: set its limits (max bytes %d, max age %s): %w", c.name, cfg.MaxBytes, cfg.MaxAge, err)
		}
		c.log.Info().Str("object_store", c.name).Int64("max_bytes", cfg.MaxBytes).Dur("max_age", cfg.MaxAge).
			Msg("chunk store had no limits: set them")
	}
	c.obj, c.stream = obj, stream
	return obj, stream, nil
}

// chunkPutTimeout bounds one put. A put runs to its end even when its caller's context ends
// first: a put cut short leaves chunks without the meta message that names them, which nothing
// could find to delete.
const chunkPutTimeout = 30 * time.Second

// chunkRemoveTimeout bounds the delete of one object.
const chunkRemoveTimeout = 5 * time.Second

// put stores a payload under name. A put that fails, or whose ctx ended meanwhile, leaves nothing
// behind.
func (c *Chunks) put(ctx context.Context, name string, data []byte) error {
	obj, _, err := c.bind(ctx)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), chunkPutTimeout)
	defer cancel()
	if _, err := obj.PutBytes(pctx, name, data); err != nil {
		c.remove(ctx, name)
		return fmt.Errorf("store chunked payload %s (%d bytes) in %s (at most %d bytes in all): %w", name, len(data), c.name, c.limits.MaxBytes, err)
	}
	if err := ctx.Err(); err != nil {
		c.remove(ctx, name)
		return fmt.Errorf("store chunked payload %s (%d bytes) in %s: %w", name, len(data), c.name, err)
	}
	return nil
}

// take reads a chunked payload, checks its length and deletes it, also when reading fails.
func (c *Chunks) take(ctx context.Context, name string, size uint64) ([]byte, error) {
	obj, _, err := c.bind(ctx)
	if err != nil {
		return nil, err
	}
	data, err := obj.GetBytes(ctx, name)
	c.remove(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("read chunked payload %s from %s: %w", name, c.name, err)
	}
	if uint64(len(data)) != size {
		return nil, fmt.Errorf("chunked payload %s in %s has %d bytes, content_length says %d", name, c.name, len(data), size)
	}
	return data, nil
}

// remove deletes the object name, if it is there, and leaves no trace of it in the stream:
// ObjectStore.Delete keeps a delete marker per name, and names are unique per invocation, so the
// chunks and the meta message are purged instead. It runs even when ctx has ended (a call that
// timed out cleans up after itself), for at most chunkRemoveTimeout. Errors are logged: the object then
// expires with the store's MaxAge.
func (c *Chunks) remove(ctx context.Context, name string) {
	if c == nil || c.nc.IsClosed() {
		return // nothing can be deleted any more: the object expires
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), chunkRemoveTimeout)
	defer cancel()
	if err := c.delete(ctx, name); err != nil {
		c.log.Warn().Err(err).Str("object", name).Str("object_store", c.name).
			Msg("could not delete a chunked payload; it expires with the store's max age")
	}
}

// removeIfBound is remove when the store is already bound: it neither binds nor creates one.
func (c *Chunks) removeIfBound(ctx context.Context, name string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	bound := c.obj != nil
	c.mu.Unlock()
	if bound {
		c.remove(ctx, name)
	}
}

func (c *Chunks) delete(ctx context.Context, name string) error {
	obj, stream, err := c.bind(ctx)
	if err != nil {
		return err
	}
	info, err := obj.GetInfo(ctx, name, jetstream.GetObjectInfoShowDeleted())
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if info.NUID != "" {
		if err := stream.Purge(ctx, jetstream.WithPurgeSubject("$O."+c.name+".C."+info.NUID)); err != nil {
			return err
		}
	}
	return stream.Purge(ctx, jetstream.WithPurgeSubject("$O."+c.name+".M."+base64.URLEncoding.EncodeToString([]byte(name))))
}
