package host

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/oci"
)

// The host's side of OCI: actors and providers started from references (loadModule and
// loadArchive call pullModule and pullArchive for anything that is not a file), the cache under
// DataDir/oci, refmaps, pull progress events and registries.put. Pulls run in the background of
// the command that asked for them (handleCommand acks first), so the control plane never waits.

// ociConfig is the OCI client's configuration from the host's: its registry flags and
// credentials, and the cache under DataDir/oci.
func (c Config) ociConfig() oci.Config {
	return oci.Config{
		AllowLatest:     c.AllowLatest,
		AllowedInsecure: c.AllowedInsecure,
		Credentials:     c.RegistryCredentials,
		DockerConfig:    c.DockerConfig,
		CacheDir:        filepath.Join(c.DataDir, "oci"),
		MaxLayerSize:    c.MaxArtifactSize,
	}
}

func newHostOCIClient(cfg Config, log zerolog.Logger) (*oci.Client, error) {
	oc := cfg.ociConfig()
	oc.Logger = log
	return oci.NewClient(oc)
}

// pullModule fetches an actor module from an OCI reference; loadModule verifies it and records
// the reference's refmap.
func (h *Host) pullModule(ctx context.Context, ref string) ([]byte, error) {
	a, err := h.oci.Pull(ctx, ref, oci.KindActor, h.pullProgress(ref))
	if err != nil {
		return nil, err
	}
	h.logPull(ref, a)
	return a.Data, nil
}

// pullArchive fetches a provider archive from an OCI reference and records its refmap.
func (h *Host) pullArchive(ctx context.Context, ref string) (*lattice.ProviderArchive, error) {
	a, err := h.oci.Pull(ctx, ref, oci.KindProvider, h.pullProgress(ref))
	if err != nil {
		return nil, err
	}
	h.logPull(ref, a)
	par, err := h.readArchive(a.Data)
	if err != nil {
		return nil, err
	}
	h.putRefMap(ctx, ref, par.Claims.Subject)
	return par, nil
}

func (h *Host) logPull(ref string, a *oci.Artifact) {
	h.log.Info().Str("ref", ref).Str("digest", a.ManifestDigest).Int64("bytes", a.Size).
		Int64("downloaded", a.Downloaded).Bool("offline", a.Offline).Msg("pulled")
}

// pullProgress publishes image_pull_progress (a Trellis extension) for ref.
func (h *Host) pullProgress(ref string) oci.Progress {
	return func(p oci.ProgressUpdate) {
		h.publish(lattice.EventImagePullProgress, lattice.ImagePullProgressData{
			ImageRef: ref, Digest: p.Digest, Bytes: p.Done, Total: p.Total, Cached: p.Cached,
		})
	}
}

// putRefMap stores REFMAP_{ref} → key in the lattice bucket and publishes refmap_set.
func (h *Host) putRefMap(ctx context.Context, ref, key string) {
	if err := h.store.PutRefMap(ctx, lattice.RefMap{OCIURL: ref, PublicKey: key}); err != nil {
		h.log.Warn().Err(err).Str("ref", ref).Msg("store refmap")
		return
	}
	h.publish(lattice.EventRefmapSet, lattice.RefmapSetData{OCIURL: ref, PublicKey: key})
}

// handleRegistriesPut merges registry credentials (registries.put) into the host's. wasmCloud
// clients publish it without expecting an answer; a request gets an ack.
func (h *Host) handleRegistriesPut(m *nats.Msg) {
	var creds lattice.RegistryCredentialMap
	if err := decode(m, &creds); err != nil {
		h.ack(m, err)
		return
	}
	n := h.oci.PutCredentials(creds)
	h.log.Info().Int("registries", n).Msg("registry credentials updated")
	h.ack(m, nil)
}

// withImageRefs adds "image_ref" to each claims map of get.claims: the OCI references the
// lattice's refmaps say hold that key, comma-joined (a Trellis extension, docs/compat.md).
func (h *Host) withImageRefs(ctx context.Context, claims []map[string]string) []map[string]string {
	refs, err := h.store.RefMaps(ctx)
	if err != nil {
		h.log.Warn().Err(err).Msg("read refmaps")
	}
	byKey := map[string][]string{}
	for _, r := range refs {
		byKey[r.PublicKey] = append(byKey[r.PublicKey], r.OCIURL)
	}
	for _, c := range claims {
		if rs := byKey[c["sub"]]; len(rs) > 0 {
			c["image_ref"] = strings.Join(rs, ",")
		}
	}
	return claims
}
