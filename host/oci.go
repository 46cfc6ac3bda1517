package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/trellis-lattice/trellis/lattice"
)

// ArtifactKind is what an OCI artifact holds.
type ArtifactKind int

const (
	// ArtifactAny accepts either kind (for `reg pull`).
	ArtifactAny ArtifactKind = iota
	// ArtifactActor is a signed wasm module.
	ArtifactActor
	// ArtifactProvider is a provider archive (.par.gz).
	ArtifactProvider
)

func (k ArtifactKind) String() string {
	switch k {
	case ArtifactActor:
		return "wasmCloud actor"
	case ArtifactProvider:
		return "wasmCloud provider archive"
	}
	return "wasmCloud artifact"
}

func (k ArtifactKind) configType() string {
	if k == ArtifactProvider {
		return lattice.MediaTypeProviderConfig
	}
	return lattice.MediaTypeActorConfig
}

func (k ArtifactKind) layerType() string {
	if k == ArtifactProvider {
		return lattice.MediaTypeProviderLayer
	}
	return lattice.MediaTypeActorLayer
}

// DetectArtifactKind tells a wasm module from a gzip'd provider archive by their first bytes.
func DetectArtifactKind(b []byte) (ArtifactKind, error) {
	switch {
	case bytes.HasPrefix(b, []byte("\x00asm")):
		return ArtifactActor, nil
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		return ArtifactProvider, nil
	}
	return ArtifactAny, errors.New("neither a wasm module (\\0asm) nor a gzip'd provider archive (.par.gz)")
}

// MaxArtifactSize bounds the layer of an artifact the client pulls or pushes.
const MaxArtifactSize = 1 << 30

// OCIConfig configures an OCIClient.
type OCIConfig struct {
	// AllowLatest lets references on the "latest" tag (given or implied) be pulled and pushed.
	AllowLatest bool
	// AllowedInsecure lists the registries (host:port) that may be reached over plain HTTP; all
	// others are reached over HTTPS only.
	AllowedInsecure []string
	// Credentials are credentials by registry (host[:port]) configured for this client, such as
	// those from OCI_REGISTRY, OCI_REGISTRY_USER and OCI_REGISTRY_PASSWORD. Those given to
	// PutCredentials (registries.put) come first.
	Credentials lattice.RegistryCredentialMap
	// DockerConfig is a docker config.json whose credentials (and credential helpers) are used
	// when neither of the above has an entry for a registry; empty for none. It is read at each
	// pull, so a later `docker login` counts.
	DockerConfig string
	// CacheDir keeps pulled manifests and layers by digest and what each reference resolved to;
	// empty for no cache.
	CacheDir string
	// Advice completes errors with what the user can do; the zero value suits a host.
	Advice OCIAdvice
	// Logger receives warnings (such as a pull served from the cache while the registry is
	// unreachable). Default: disabled.
	Logger zerolog.Logger
}

// OCIAdvice is the hint an error ends with; the host's and the CLI's flags differ.
type OCIAdvice struct {
	Latest      string // after ":latest is refused; "
	Insecure    string // after "HOST is plain HTTP"
	Credentials string // after "anonymous pull refused; "
}

func (a OCIAdvice) withDefaults() OCIAdvice {
	if a.Latest == "" {
		a.Latest = "pin a version, or pass --allow-latest"
	}
	if a.Insecure == "" {
		a.Insecure = " and not in --allowed-insecure"
	}
	if a.Credentials == "" {
		a.Credentials = "set registry credentials with registries.put or OCI_REGISTRY_USER/OCI_REGISTRY_PASSWORD"
	}
	return a
}

// OCIClient pulls and pushes wasmCloud actors and provider archives (PROTOCOL.md §8) with
// oras-go. It is safe for concurrent use; concurrent pulls of the same reference share one
// download.
type OCIClient struct {
	cfg      OCIConfig
	advice   OCIAdvice
	log      zerolog.Logger
	http     *http.Client
	cache    *ociCache // nil without CacheDir
	insecure map[string]bool
	flight   singleflight.Group

	mu  sync.RWMutex
	put map[string]lattice.RegistryCredential // from registries.put, by normalized server
}

// Artifact is a pulled or pushed artifact.
type Artifact struct {
	Ref            lattice.OCIRef
	Kind           ArtifactKind
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

// NewOCIClient checks cfg and returns a client.
func NewOCIClient(cfg OCIConfig) (*OCIClient, error) {
	c := &OCIClient{
		cfg: cfg, advice: cfg.Advice.withDefaults(), log: cfg.Logger.With().Str("component", "oci").Logger(),
		insecure: map[string]bool{}, put: map[string]lattice.RegistryCredential{},
	}
	for _, r := range cfg.AllowedInsecure {
		host := normalizeServer(r)
		if host == "" || strings.ContainsAny(host, " \t") {
			return nil, fmt.Errorf("allowed insecure registry %q: want host[:port]", r)
		}
		c.insecure[host] = true
	}
	if cfg.CacheDir != "" {
		c.cache = &ociCache{dir: cfg.CacheDir}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 30 * time.Second
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	policy := &retry.GenericPolicy{
		Retryable: retry.DefaultPredicate, Backoff: retry.DefaultBackoff,
		MinWait: 200 * time.Millisecond, MaxWait: 2 * time.Second, MaxRetry: 3,
	}
	rt := retry.NewTransport(tr)
	rt.Policy = func() retry.Policy { return policy }
	c.http = &http.Client{Transport: rt}
	return c, nil
}

// PutCredentials merges registry credentials (the registries.put payload) into the client's:
// each server's entry replaces the one it had. Entries of a registryType other than "oci" (such
// as wasmCloud's "bindle") are ignored.
func (c *OCIClient) PutCredentials(m lattice.RegistryCredentialMap) (applied int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for server, cred := range m {
		if t := strings.ToLower(cred.RegistryType); t != "" && t != "oci" {
			c.log.Warn().Str("server", server).Str("registry_type", cred.RegistryType).Msg("registry credentials of an unsupported type ignored")
			continue
		}
		if s := normalizeServer(server); s != "" {
			c.put[s] = cred
			applied++
		}
	}
	return applied
}

// normalizeServer turns "https://Reg.example:5000/v2/" into "reg.example:5000".
func normalizeServer(s string) string {
	s = strings.TrimSpace(strings.ToLower(s))
	if _, rest, ok := strings.Cut(s, "://"); ok {
		s = rest
	}
	s, _, _ = strings.Cut(s, "/")
	return s
}

// endpoint is where a registry's API is: Docker Hub's lives on another host.
func endpoint(registry string) string {
	if registry == "docker.io" || registry == "index.docker.io" {
		return "registry-1.docker.io"
	}
	return registry
}

// credential picks the credentials for a registry: registries.put, then the configured ones,
// then the docker config, then none. source says where they came from ("" for anonymous).
func (c *OCIClient) credential(ctx context.Context, reg string) (auth.Credential, string) {
	key := normalizeServer(reg)
	c.mu.RLock()
	cred, ok := c.put[key]
	c.mu.RUnlock()
	if ok {
		return authCredential(cred), "registries.put"
	}
	for server, cred := range c.cfg.Credentials {
		if normalizeServer(server) == key {
			return authCredential(cred), "the host's configured credentials (OCI_REGISTRY_USER)"
		}
	}
	if cred, ok := c.dockerCredential(ctx, reg); ok {
		return cred, "docker config " + c.cfg.DockerConfig
	}
	return auth.EmptyCredential, ""
}

func authCredential(c lattice.RegistryCredential) auth.Credential {
	return auth.Credential{Username: c.Username, Password: c.Password, AccessToken: c.Token}
}

// repository opens ref's repository with the credentials chosen for its registry.
func (c *OCIClient) repository(ctx context.Context, r lattice.OCIRef) (*remote.Repository, string) {
	cred, source := c.credential(ctx, r.Registry)
	repo := &remote.Repository{
		Reference: registry.Reference{Registry: endpoint(r.Registry), Repository: r.Repository, Reference: r.Reference()},
		PlainHTTP: c.insecure[normalizeServer(r.Registry)],
		Client: &auth.Client{
			Client:     c.http,
			Cache:      auth.NewCache(),
			Credential: func(context.Context, string) (auth.Credential, error) { return cred, nil },
		},
	}
	repo.Client.(*auth.Client).SetUserAgent("trellis")
	return repo, source
}

// Pull fetches the artifact at ref, which must be of kind want (ArtifactAny: either). With a
// cache, the reference is resolved to a manifest digest at each pull (a HEAD request), and the
// manifest and layer are downloaded only when that digest is not cached; when the registry cannot
// be reached at all, a reference pulled before is served from the cache. Errors say "pull REF:
// reason".
func (c *OCIClient) Pull(ctx context.Context, ref string, want ArtifactKind, progress Progress) (*Artifact, error) {
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

// check parses ref and applies the :latest rule.
func (c *OCIClient) check(ref, op string) (lattice.OCIRef, error) {
	r, err := lattice.ParseOCIRef(ref)
	if err != nil {
		return r, fmt.Errorf("%s %s: %w", op, ref, err)
	}
	if r.Latest() && !c.cfg.AllowLatest {
		if r.TagDefaulted {
			return r, fmt.Errorf("%s %s: no tag means :latest, and :latest is refused; %s", op, ref, c.advice.Latest)
		}
		return r, fmt.Errorf("%s %s: :latest is refused; %s", op, ref, c.advice.Latest)
	}
	return r, nil
}

func (c *OCIClient) pull(ctx context.Context, ref string, r lattice.OCIRef, want ArtifactKind, progress Progress) (*Artifact, error) {
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
		if mdesc.Size > 4<<20 {
			return fail("manifest of %d bytes is too large for a wasmCloud artifact", mdesc.Size)
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
	if layer.Size < 0 || layer.Size > MaxArtifactSize {
		return fail("layer %s of %d bytes: at most %d allowed", layer.Digest, layer.Size, MaxArtifactSize)
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
func artifactOf(m ocispec.Manifest, want ArtifactKind) (ArtifactKind, ocispec.Descriptor, error) {
	for _, l := range m.Layers {
		var got ArtifactKind
		switch l.MediaType {
		case lattice.MediaTypeActorLayer:
			got = ArtifactActor
		case lattice.MediaTypeProviderLayer:
			got = ArtifactProvider
		default:
			continue
		}
		if want != ArtifactAny && got != want {
			hint := "start it with `ctl start provider`"
			if got == ArtifactActor {
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
	if want != ArtifactAny {
		wantLayer = want.layerType()
	}
	return want, ocispec.Descriptor{}, fmt.Errorf("media type %s is not a %s (want a layer of type %s)", found, want, wantLayer)
}

// fetchLayer downloads a blob, verifying size and digest, reporting progress.
func (c *OCIClient) fetchLayer(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor, progress Progress) ([]byte, error) {
	rc, err := repo.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
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

// explain turns a registry error into its reason, with advice where there is some.
func (c *OCIClient) explain(r lattice.OCIRef, source string, err error, op string) string {
	var resp *errcode.ErrorResponse
	isResp := errors.As(err, &resp)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Sprintf("gave up waiting for registry %s: %v", r.Registry, err)
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Sprintf("%s is plain HTTP%s", r.Registry, c.advice.Insecure)
	case errors.Is(err, auth.ErrBasicCredentialNotFound),
		isResp && resp.StatusCode == http.StatusUnauthorized && source == "":
		return fmt.Sprintf("unauthorized: anonymous %s refused; %s", op, c.advice.Credentials)
	case isResp && resp.StatusCode == http.StatusUnauthorized:
		return fmt.Sprintf("unauthorized: registry %s refused the credentials from %s", r.Registry, source)
	case isResp && resp.StatusCode == http.StatusForbidden:
		who := "anonymous " + op
		if source != "" {
			who = "the credentials from " + source
		}
		return fmt.Sprintf("denied: registry %s does not allow %s on %s (%v)", r.Registry, who, r.Repository, resp.Errors)
	case errors.Is(err, errdef.ErrNotFound), isResp && resp.StatusCode == http.StatusNotFound:
		if r.Digest != "" {
			return fmt.Sprintf("manifest unknown: repository %s of %s has no manifest %s", r.Repository, r.Registry, r.Digest)
		}
		return fmt.Sprintf("manifest unknown: repository %s of %s has no tag %s", r.Repository, r.Registry, r.Tag)
	case unreachable(err):
		return fmt.Sprintf("registry %s unreachable: %v", r.Registry, unwrapNet(err))
	case isResp:
		return fmt.Sprintf("registry %s answered %d: %v", r.Registry, resp.StatusCode, resp.Errors)
	}
	return err.Error()
}

// unreachable reports an error of the network, before any HTTP answer.
func unreachable(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) || errors.As(err, &dns)
}

// unwrapNet returns the innermost network error, without the URL around it.
func unwrapNet(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns
	}
	return err
}
