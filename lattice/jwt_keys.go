package lattice

import (
	"crypto/ed25519"
	"sync"

	"github.com/trellis-lattice/trellis/lattice/internal/edfixed"
)

// maxClusterTables bounds how many cluster keys get a verification table (480 KiB each, see
// edfixed.TableBytes). Only keys a receiver trusts get one (trust, called by Invocation.Validate
// with its cluster issuers): a token names its own issuer, so keys made up by a sender verify
// with crypto/ed25519 and cannot fill the cache. A lattice has one or a few cluster issuers; keys
// beyond the bound verify with crypto/ed25519 as before. Tables are never evicted.
const maxClusterTables = 16

// clusterTables are the verification tables of the cluster keys seen so far, by encoded key.
var clusterTables = tableCache{max: maxClusterTables}

// tableCache is a bounded, concurrency-safe set of edfixed keys. Its lock is taken only by its
// methods and never while a table is built.
type tableCache struct {
	max  int
	mu   sync.RWMutex
	keys map[string]*tableEntry
}

// tableEntry builds its table once, on first use, outside the cache lock.
type tableEntry struct {
	pub  ed25519.PublicKey
	once sync.Once
	key  *edfixed.Key // nil when pub is not a point (crypto/ed25519 refuses every signature)
}

// verify has the result of ed25519.Verify(e.pub, msg, sig).
func (e *tableEntry) verify(msg, sig []byte) bool {
	e.once.Do(func() { e.key, _ = edfixed.New(e.pub) })
	return e.key != nil && e.key.Verify(msg, sig)
}

// verify checks sig over msg by pub, whose encoded form is public, with the table of public when
// it is a trusted key, else with crypto/ed25519: the result is the same.
func (c *tableCache) verify(public string, pub ed25519.PublicKey, msg, sig []byte) bool {
	if e := c.get(public); e != nil {
		return e.verify(msg, sig)
	}
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, msg, sig)
}

// trust gives the cluster keys among keys an entry (their tables are built on first use), while
// there is room; keys already trusted cost a map lookup each.
func (c *tableCache) trust(keys []string) {
	for _, k := range keys {
		if c.get(k) != nil {
			continue
		}
		prefix, pub, err := decodePublicKey(k)
		if err != nil || prefix != PrefixCluster {
			continue
		}
		c.add(k, pub)
	}
}

// get returns the entry of an encoded key seen before, or nil.
func (c *tableCache) get(public string) *tableEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.keys[public]
}

// add returns the entry of public, adding one while there is room; nil when the cache is full.
func (c *tableCache) add(public string, pub ed25519.PublicKey) *tableEntry {
	if e := c.get(public); e != nil {
		return e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.keys[public]; e != nil {
		return e
	}
	if len(c.keys) >= c.max {
		return nil
	}
	if c.keys == nil {
		c.keys = make(map[string]*tableEntry)
	}
	e := &tableEntry{pub: append(ed25519.PublicKey(nil), pub...)}
	c.keys[public] = e
	return e
}
