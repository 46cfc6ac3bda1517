package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/trellis-lattice/trellis/lattice"
)

// Push uploads data (a signed actor module or a provider archive, told apart by their first
// bytes and verified first) as a wasmCloud artifact with the media types of PROTOCOL.md §8, and
// tags it with ref's tag. Errors say "push REF: reason".
func (c *Client) Push(ctx context.Context, ref string, data []byte, progress Progress) (*Artifact, error) {
	r, err := c.check(ref, "push")
	if err != nil {
		return nil, err
	}
	fail := func(format string, args ...any) (*Artifact, error) {
		return nil, fmt.Errorf("push %s: %s", ref, fmt.Sprintf(format, args...))
	}
	if r.Digest != "" {
		return fail("a reference with a digest cannot be pushed to; give REGISTRY/REPOSITORY:TAG")
	}
	if int64(len(data)) > c.cfg.MaxLayerSize {
		return fail("%d bytes: over the limit of %d bytes%s", len(data), c.cfg.MaxLayerSize, c.advice.Size)
	}
	kind, err := DetectKind(data)
	if err != nil {
		return fail("%v", err)
	}
	switch kind {
	case KindActor:
		if _, err := lattice.VerifyActor(data, time.Now()); err != nil {
			return fail("not a validly signed actor: %v", err)
		}
	case KindProvider:
		if _, err := lattice.ReadPAR(bytes.NewReader(data)); err != nil {
			return fail("not a valid provider archive: %v", err)
		}
	}
	config := []byte("{}")
	cdesc := content.NewDescriptorFromBytes(kind.configType(), config)
	ldesc := content.NewDescriptorFromBytes(kind.layerType(), data)
	manifest, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: cdesc, Layers: []ocispec.Descriptor{ldesc},
	})
	if err != nil {
		return fail("encode manifest: %v", err)
	}
	mdesc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, manifest)

	repo, source := c.repository(ctx, r)
	out := &Artifact{Ref: r, Kind: kind, ManifestDigest: mdesc.Digest.String(), LayerDigest: ldesc.Digest.String(), Size: ldesc.Size, Data: data}
	for _, blob := range []struct {
		desc ocispec.Descriptor
		data []byte
		fn   Progress
	}{{cdesc, config, nil}, {ldesc, data, progress}} {
		exists, err := repo.Exists(ctx, blob.desc)
		if err != nil {
			return fail("%s", c.explain(r, source, err, "push"))
		}
		if exists {
			continue
		}
		var rd io.Reader = bytes.NewReader(blob.data)
		if blob.fn != nil {
			rd = &progressReader{r: rd, desc: blob.desc, fn: blob.fn}
		}
		if err := repo.Push(ctx, blob.desc, rd); err != nil {
			return fail("upload %s: %s", blob.desc.Digest, c.explain(r, source, err, "push"))
		}
		if blob.fn != nil {
			out.Downloaded = blob.desc.Size
			blob.fn(ProgressUpdate{Digest: blob.desc.Digest.String(), Done: blob.desc.Size, Total: blob.desc.Size})
		}
	}
	if err := repo.PushReference(ctx, mdesc, bytes.NewReader(manifest), r.Tag); err != nil {
		return fail("manifest: %s", c.explain(r, source, err, "push"))
	}
	return out, nil
}
