package oci

import (
	"bytes"
	"errors"
	"io"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/trellis-lattice/trellis/lattice"
)

// Kind is what an OCI artifact holds.
type Kind int

const (
	// KindAny accepts either kind (for `reg pull`).
	KindAny Kind = iota
	// KindActor is a signed wasm module.
	KindActor
	// KindProvider is a provider archive (.par.gz).
	KindProvider
)

func (k Kind) String() string {
	switch k {
	case KindActor:
		return "wasmCloud actor"
	case KindProvider:
		return "wasmCloud provider archive"
	}
	return "wasmCloud artifact"
}

func (k Kind) configType() string {
	if k == KindProvider {
		return lattice.MediaTypeProviderConfig
	}
	return lattice.MediaTypeActorConfig
}

func (k Kind) layerType() string {
	if k == KindProvider {
		return lattice.MediaTypeProviderLayer
	}
	return lattice.MediaTypeActorLayer
}

// DetectKind tells a wasm module from a gzip'd provider archive by their first bytes.
func DetectKind(b []byte) (Kind, error) {
	switch {
	case bytes.HasPrefix(b, []byte("\x00asm")):
		return KindActor, nil
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		return KindProvider, nil
	}
	return KindAny, errors.New("neither a wasm module (\\0asm) nor a gzip'd provider archive (.par.gz)")
}

// DefaultMaxLayerSize is the default of Config.MaxLayerSize: room for Go actors of tens of MiB
// and for provider archives with a binary for each of several platforms.
const DefaultMaxLayerSize = 256 << 20

// maxManifestSize bounds a manifest: a wasmCloud artifact's has one config and one layer.
const maxManifestSize = 4 << 20

// Artifact is a pulled or pushed artifact.
type Artifact struct {
	Ref            lattice.OCIRef
	Kind           Kind
	ManifestDigest string
	LayerDigest    string
	Size           int64
	// Data is the layer: the signed module or the .par.gz. Callers must not modify it.
	Data []byte
	// Downloaded is how many layer bytes came from the registry (pushed, for Push); 0 when the
	// layer was in the cache (or already in the registry).
	Downloaded int64
	// Offline is true when the registry could not be reached and the reference was resolved from
	// the cache instead.
	Offline bool
}

// Progress receives how far the transfer of a layer got; the client calls it at most every
// progressEvery and once at the end.
type Progress func(ProgressUpdate)

// ProgressUpdate says that Done of Total bytes of the layer Digest have moved; Cached, that the
// layer was in the cache and nothing moved.
type ProgressUpdate struct {
	Digest      string
	Done, Total int64
	Cached      bool
}

const progressEvery = 250 * time.Millisecond

// progressReader calls fn with the bytes read so far, at most every progressEvery.
type progressReader struct {
	r    io.Reader
	desc ocispec.Descriptor
	fn   Progress
	done int64
	last time.Time
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if p.fn != nil && n > 0 && p.done < p.desc.Size && time.Since(p.last) >= progressEvery {
		p.last = time.Now()
		p.fn(ProgressUpdate{Digest: p.desc.Digest.String(), Done: p.done, Total: p.desc.Size})
	}
	return n, err
}
