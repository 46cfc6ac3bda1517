package oci

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/opencontainers/go-digest"
	"github.com/rs/zerolog"

	"github.com/trellis-lattice/trellis/lattice"
)

// diskCache keeps what was pulled, on disk under dir:
//
//	blobs/<algorithm>/<hex>   manifests and layers, by digest, verified when read
//	refs/<sha256 of ref>.json what a reference resolved to last: {"ref", "digest", "time"}
//
// Files are written to a temporary name and renamed, so hosts sharing a data dir and crashes
// never leave a partial blob behind. A nil *diskCache caches nothing.
type diskCache struct{ dir string }

type cachedRef struct {
	Ref    string    `json:"ref"`
	Digest string    `json:"digest"`
	Time   time.Time `json:"time"`
}

func (c *diskCache) blobPath(d digest.Digest) string {
	return filepath.Join(c.dir, "blobs", d.Algorithm().String(), d.Encoded())
}

func (c *diskCache) refPath(r lattice.OCIRef) string {
	sum := sha256.Sum256([]byte(r.String()))
	return filepath.Join(c.dir, "refs", hex.EncodeToString(sum[:])+".json")
}

// has reports whether a blob is cached (without verifying it).
func (c *diskCache) has(d digest.Digest) bool {
	if c == nil || d.Validate() != nil {
		return false
	}
	_, err := os.Stat(c.blobPath(d))
	return err == nil
}

// read returns a cached blob whose content matches its digest; a corrupt one is removed.
func (c *diskCache) read(d digest.Digest) ([]byte, bool) {
	if c == nil || d.Validate() != nil {
		return nil, false
	}
	path := c.blobPath(d)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	if d.Algorithm().FromBytes(b) != d {
		_ = os.Remove(path)
		return nil, false
	}
	return b, true
}

// write stores a verified blob; failures only cost a later download, so they are logged.
func (c *diskCache) write(d digest.Digest, b []byte, log zerolog.Logger) {
	if c == nil || d.Validate() != nil {
		return
	}
	if err := writeAtomic(c.blobPath(d), b); err != nil {
		log.Warn().Err(err).Str("digest", d.String()).Msg("cache blob")
	}
}

// resolve returns the manifest digest r resolved to last, or "".
func (c *diskCache) resolve(r lattice.OCIRef) digest.Digest {
	if c == nil {
		return ""
	}
	b, err := os.ReadFile(c.refPath(r))
	if err != nil {
		return ""
	}
	var e cachedRef
	if json.Unmarshal(b, &e) != nil || e.Ref != r.String() || digest.Digest(e.Digest).Validate() != nil {
		return ""
	}
	return digest.Digest(e.Digest)
}

// remember records what r resolved to.
func (c *diskCache) remember(r lattice.OCIRef, d digest.Digest, log zerolog.Logger) {
	if c == nil {
		return
	}
	b, err := json.Marshal(cachedRef{Ref: r.String(), Digest: d.String(), Time: time.Now().UTC()})
	if err == nil {
		err = writeAtomic(c.refPath(r), b)
	}
	if err != nil {
		log.Warn().Err(err).Str("ref", r.String()).Msg("cache reference")
	}
}

func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + "." + uuid.NewString() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}
