package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/trellis-lattice/trellis/lattice"
)

// Pull fetches the artifact at ref, which must be of kind want (KindAny: either). With a
// cache, the reference is resolved to a manifest digest at each pull (a HEAD request), and the
// manifest and layer are downloaded only when that digest is not cached; when the registry cannot
// be reached at all, a reference pulled before is served from the cache. Errors say "pull REF:
// reason".
func (c *Client) Pull(ctx context.Context, ref string, want Kind, progress Progress) (*Artifact, error) {
	r, err := c.check(ref, "pull")
	if err != nil {
		return nil, err
	}
	v, err, _ := c.flight.Do(fmt.Sprint(want)+"\x00"+ref, func() (any, error) {
		return c.pull(ctx, ref, r, want, progress)
	})
	if err != nil {
		return nil, err
	}
	return v.(*Artifact), nil
}

func (c *Client) pull(ctx context.Context, ref string, r lattice.OCIRef, want Kind, progress Progress) (*Artifact, error) {
	fail := func(format string, args ...any) (*Artifact, error) {
		return nil, fmt.Errorf("pull %s: %s", ref, fmt.Sprintf(format, args...))
	}
	var (
		repo   *remote.Repository
		source string
		mdesc  ocispec.Descriptor
		out    = &Artifact{Ref: r}
	)
	open := func() {
		if repo == nil {
			repo, source = c.repository(ctx, r)
		}
	}
	if r.Digest != "" && c.cache.has(digest.Digest(r.Digest)) {
		mdesc = ocispec.Descriptor{Digest: digest.Digest(r.Digest)} // immutable: no need to ask
	} else {
		open()
		desc, err := repo.Resolve(ctx, r.Reference())
		switch {
		case err == nil:
			mdesc = desc
		case unreachable(err) && c.cache.resolve(r) != "":
			mdesc = ocispec.Descriptor{Digest: c.cache.resolve(r)}
			out.Offline = true
			c.log.Warn().Str("ref", ref).Str("digest", mdesc.Digest.String()).Err(err).
				Msg("registry unreachable: using the manifest this reference resolved to last time")
		default:
			return fail("%s", c.explain(r, source, err, "pull"))
		}
	}
	switch mdesc.MediaType {
	case "", ocispec.MediaTypeImageManifest, "application/vnd.docker.distribution.manifest.v2+json":
	case ocispec.MediaTypeImageIndex, "application/vnd.docker.distribution.manifest.list.v2+json":
		return fail("%s is an image index (a multi-platform image), not a %s", mdesc.MediaType, want)
	default:
		return fail("manifest media type %s is not a %s", mdesc.MediaType, want)
	}

	raw, ok := c.cache.read(mdesc.Digest)
	if !ok {
		open()
		if mdesc.Size == 0 {
			desc, err := repo.Resolve(ctx, mdesc.Digest.String())
			if err != nil {
				return fail("%s", c.explain(r, source, err, "pull"))
			}
			mdesc = desc
		}
		if mdesc.Size < 0 || mdesc.Size > maxManifestSize {
			return fail("manifest of %d bytes: over the limit of %d bytes for a wasmCloud artifact's manifest", mdesc.Size, maxManifestSize)
		}
		b, err := content.FetchAll(ctx, repo, mdesc)
		if err != nil {
			return fail("manifest %s: %s", mdesc.Digest, c.explain(r, source, err, "pull"))
		}
		raw = b
		c.cache.write(mdesc.Digest, raw, c.log)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return fail("manifest %s is not an OCI image manifest: %v", mdesc.Digest, err)
	}
	kind, layer, err := artifactOf(m, want)
	if err != nil {
		return fail("%v", err)
	}
	if err := layer.Digest.Validate(); err != nil {
		return fail("layer digest %q: %v", layer.Digest, err)
	}
	if layer.Size < 0 || layer.Size > c.cfg.MaxLayerSize {
		return fail("layer %s of %d bytes: over the limit of %d bytes%s", layer.Digest, layer.Size, c.cfg.MaxLayerSize, c.advice.Size)
	}
	out.Kind, out.ManifestDigest, out.LayerDigest, out.Size = kind, mdesc.Digest.String(), layer.Digest.String(), layer.Size

	if data, ok := c.cache.read(layer.Digest); ok {
		out.Data = data
		if progress != nil {
			progress(ProgressUpdate{Digest: layer.Digest.String(), Done: layer.Size, Total: layer.Size, Cached: true})
		}
	} else {
		if out.Offline {
			return fail("registry unreachable, and layer %s of the cached manifest is not in the cache", layer.Digest)
		}
		open()
		data, err := c.fetchLayer(ctx, repo, layer, progress)
		if err != nil {
			return fail("layer %s: %s", layer.Digest, c.explain(r, source, err, "pull"))
		}
		out.Data, out.Downloaded = data, int64(len(data))
		c.cache.write(layer.Digest, data, c.log)
	}
	c.cache.remember(r, mdesc.Digest, c.log)
	return out, nil
}

// artifactOf finds the wasmCloud layer of a manifest and checks it is of kind want.
func artifactOf(m ocispec.Manifest, want Kind) (Kind, ocispec.Descriptor, error) {
	for _, l := range m.Layers {
		var got Kind
		switch l.MediaType {
		case lattice.MediaTypeActorLayer:
			got = KindActor
		case lattice.MediaTypeProviderLayer:
			got = KindProvider
		default:
			continue
		}
		if want != KindAny && got != want {
			hint := "start it with `ctl start provider`"
			if got == KindActor {
				hint = "start it with `ctl start actor`"
			}
			return got, l, fmt.Errorf("media type %s is not a %s: it is a %s; %s", l.MediaType, want, got, hint)
		}
		return got, l, nil
	}
	found := m.Config.MediaType
	if len(m.Layers) > 0 {
		found = m.Layers[0].MediaType
	}
	if found == "" {
		found = "(none)"
	}
	wantLayer := lattice.MediaTypeActorLayer + " or " + lattice.MediaTypeProviderLayer
	if want != KindAny {
		wantLayer = want.layerType()
	}
	return want, ocispec.Descriptor{}, fmt.Errorf("media type %s is not a %s (want a layer of type %s)", found, want, wantLayer)
}

// fetchLayer downloads a blob, verifying size and digest, reporting progress.
func (c *Client) fetchLayer(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor, progress Progress) ([]byte, error) {
	rc, err := repo.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// The verify reader stops at desc.Size (at most the limit, checked by the caller) and fails on
	// more: what the registry sends beyond what its manifest said is never read.
	vr := content.NewVerifyReader(rc, desc)
	var buf bytes.Buffer
	buf.Grow(int(desc.Size))
	if _, err := io.Copy(&buf, &progressReader{r: vr, desc: desc, fn: progress}); err != nil {
		return nil, err
	}
	if err := vr.Verify(); err != nil {
		return nil, err
	}
	if progress != nil {
		progress(ProgressUpdate{Digest: desc.Digest.String(), Done: desc.Size, Total: desc.Size})
	}
	return buf.Bytes(), nil
}
