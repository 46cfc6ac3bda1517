package oci_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/oci"
)

// TestLayerSizeLimit: against a real registry, a layer one byte over MaxLayerSize is refused
// before it is downloaded, with an error naming the limit; at the limit it is pulled. A push
// over the limit is refused too.
func TestLayerSizeLimit(t *testing.T) {
	reg := latticetest.RunRegistry(t, latticetest.RegistryOptions{})
	actor := signedActor(t)
	ref := reg.Addr + "/tiny:limit"
	pushed := push(t, reg, ref, actor.Path, nil)
	size := int64(len(actor.Module))
	require.Equal(t, size, pushed.Size)

	over := newClient(t, oci.Config{AllowedInsecure: []string{reg.Addr}, MaxLayerSize: size - 1})
	_, err := over.Pull(ctx(t), ref, oci.KindActor, nil)
	require.EqualError(t, err, fmt.Sprintf("pull %s: layer %s of %d bytes: over the limit of %d bytes (--max-artifact-size)",
		ref, pushed.LayerDigest, size, size-1))
	require.Zero(t, reg.BlobGets(pushed.LayerDigest), "refused before the download")

	_, err = over.Push(ctx(t), reg.Addr+"/tiny:over", actor.Module, nil)
	require.EqualError(t, err, fmt.Sprintf("push %s/tiny:over: %d bytes: over the limit of %d bytes (--max-artifact-size)", reg.Addr, size, size-1))

	at := newClient(t, oci.Config{AllowedInsecure: []string{reg.Addr}, MaxLayerSize: size})
	a, err := at.Pull(ctx(t), ref, oci.KindActor, nil)
	require.NoError(t, err)
	require.Equal(t, actor.Module, a.Data)

	require.ErrorContains(t, oci.Config{MaxLayerSize: -1}.Validate(), "max layer size -1: must not be negative")
}

// lyingRegistry serves one artifact whose manifest and layer are sent longer than their
// descriptors say (as a hostile or broken registry could), counting what it managed to write.
type lyingRegistry struct {
	manifest, layer   []byte
	padManifest       bool // the manifest's GET sends 10 MiB more than its HEAD said
	padLayer          bool // the layer's GET sends 64 MiB more than the manifest said
	manifestD, layerD digest.Digest
	written           atomic.Int64
}

func newLyingRegistry(t *testing.T, declaredLayerSize int64) *lyingRegistry {
	layer := bytes.Repeat([]byte("x"), 1024)
	m := ocispec.Manifest{
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: lattice.MediaTypeActorConfig, Digest: digest.FromBytes([]byte("{}")), Size: 2},
		Layers:    []ocispec.Descriptor{{MediaType: lattice.MediaTypeActorLayer, Digest: digest.FromBytes(layer), Size: declaredLayerSize}},
	}
	m.SchemaVersion = 2
	raw, err := json.Marshal(m)
	require.NoError(t, err)
	return &lyingRegistry{manifest: raw, layer: layer, manifestD: digest.FromBytes(raw), layerD: digest.FromBytes(layer)}
}

func (r *lyingRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	send := func(b []byte, pad int) {
		n, _ := w.Write(b)
		r.written.Add(int64(n))
		chunk := bytes.Repeat([]byte(" "), 64<<10)
		for sent := 0; sent < pad; sent += len(chunk) {
			n, err := w.Write(chunk)
			r.written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}
	switch {
	case req.URL.Path == "/v2/":
		w.WriteHeader(http.StatusOK)
	case strings.HasPrefix(req.URL.Path, "/v2/lie/manifests/"):
		w.Header().Set("Content-Type", ocispec.MediaTypeImageManifest)
		w.Header().Set("Docker-Content-Digest", r.manifestD.String())
		if req.Method == http.MethodHead {
			w.Header().Set("Content-Length", fmt.Sprint(len(r.manifest)))
			return
		}
		pad := 0
		if r.padManifest {
			pad = 10 << 20 // no Content-Length: chunked
		} else {
			w.Header().Set("Content-Length", fmt.Sprint(len(r.manifest)))
		}
		send(r.manifest, pad)
	case req.URL.Path == "/v2/lie/blobs/"+r.layerD.String():
		pad := 0
		if r.padLayer {
			pad = 64 << 20
		}
		send(r.layer, pad)
	default:
		http.NotFound(w, req)
	}
}

// TestPullFromALyingRegistry: sizes a registry declares bound what is read, whatever it sends.
func TestPullFromALyingRegistry(t *testing.T) {
	tests := []struct {
		name          string
		declared      int64
		padManifest   bool
		padLayer      bool
		want          string
		maxWrittenMiB int64
	}{
		{"layer longer than its descriptor", 1024, false, true, "sent more than the size it declared: cut off at that size", 32},
		{"manifest longer than its HEAD said", 1024, true, false, "sent more than the size it declared: cut off at that size", 8},
		{"layer declared over the limit", 1 << 30, false, false, "of 1073741824 bytes: over the limit of 1048576 bytes", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lr := newLyingRegistry(t, tt.declared)
			lr.padManifest, lr.padLayer = tt.padManifest, tt.padLayer
			srv := httptest.NewServer(lr)
			t.Cleanup(srv.Close)
			addr := strings.TrimPrefix(srv.URL, "http://")
			c := newClient(t, oci.Config{AllowedInsecure: []string{addr}, MaxLayerSize: 1 << 20})
			_, err := c.Pull(ctx(t), addr+"/lie:1.0.0", oci.KindActor, nil)
			require.ErrorContains(t, err, tt.want)
			require.Less(t, lr.written.Load(), tt.maxWrittenMiB<<20, "the client stopped reading")
		})
	}
}
