package lattice

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Chunks moves payloads over MaxInlinePayload through the lattice's JetStream object store (named
// after the lattice), as upstream does: the object is named after the invocation id, a response
// after the id plus "-r". The store is bound, or created, on first use. Hosts, providers and the
// ctl client share it.
type Chunks struct {
	nc     *nats.Conn
	domain string
	name   string
	log    zerolog.Logger
	mu     sync.Mutex
	obj    jetstream.ObjectStore
}

// NewChunks returns the chunk store of a lattice; domain is the JetStream domain, if any.
func NewChunks(nc *nats.Conn, domain, lattice string, log zerolog.Logger) *Chunks {
	return &Chunks{nc: nc, domain: domain, name: NewSubjects(lattice).ObjectStore(), log: log}
}

func (c *Chunks) bind(ctx context.Context) (jetstream.ObjectStore, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.obj != nil {
		return c.obj, nil
	}
	var js jetstream.JetStream
	var err error
	if c.domain != "" {
		js, err = jetstream.NewWithDomain(c.nc, c.domain)
	} else {
		js, err = jetstream.New(c.nc)
	}
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", c.name, err)
	}
	obj, err := js.ObjectStore(ctx, c.name)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obj, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      c.name,
			Description: "lattice " + c.name + ": chunked invocation payloads",
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			obj, err = js.ObjectStore(ctx, c.name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", c.name, err)
	}
	c.obj = obj
	return obj, nil
}

// put stores a payload under name.
func (c *Chunks) put(ctx context.Context, name string, data []byte) error {
	obj, err := c.bind(ctx)
	if err != nil {
		return err
	}
	if _, err := obj.PutBytes(ctx, name, data); err != nil {
		return fmt.Errorf("store chunked payload %s in %s: %w", name, c.name, err)
	}
	return nil
}

// take reads a chunked payload, checks its length and deletes it.
func (c *Chunks) take(ctx context.Context, name string, size uint64) ([]byte, error) {
	obj, err := c.bind(ctx)
	if err != nil {
		return nil, err
	}
	data, err := obj.GetBytes(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("read chunked payload %s from %s: %w", name, c.name, err)
	}
	if uint64(len(data)) != size {
		return nil, fmt.Errorf("chunked payload %s in %s has %d bytes, content_length says %d", name, c.name, len(data), size)
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := obj.Delete(dctx, name); err != nil {
		c.log.Warn().Err(err).Str("object", name).Msg("could not delete a chunked payload after reading it")
	}
	return data, nil
}
