package oci

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

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

// Config configures a Client. The zero value (or DefaultConfig) is a client without a cache,
// credentials or plain HTTP that refuses :latest.
type Config struct {
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
	// MaxLayerSize is the largest layer (an actor module or provider archive) the client pulls or
	// pushes, in bytes; 0 is DefaultMaxLayerSize. A layer whose manifest says it is larger is
	// refused before it is downloaded, and a download is cut off at the size the manifest gave,
	// so a registry that lies about sizes gets no further.
	MaxLayerSize int64
	// Advice completes errors with what the user can do; the zero value suits a host.
	Advice Advice
	// Logger receives warnings (such as a pull served from the cache while the registry is
	// unreachable). Default: disabled.
	Logger zerolog.Logger
}

// Advice is the hint an error ends with; the host's and the CLI's flags differ.
type Advice struct {
	Latest      string // after ":latest is refused; "
	Insecure    string // after "HOST is plain HTTP"
	Credentials string // after "anonymous pull refused; "
	Size        string // after "over the limit of N bytes"
}

func (a Advice) withDefaults() Advice {
	if a.Latest == "" {
		a.Latest = "pin a version, or pass --allow-latest"
	}
	if a.Insecure == "" {
		a.Insecure = " and not in --allowed-insecure"
	}
	if a.Size == "" {
		a.Size = " (--max-artifact-size)"
	}
	if a.Credentials == "" {
		a.Credentials = "set registry credentials with registries.put or OCI_REGISTRY_USER/OCI_REGISTRY_PASSWORD"
	}
	return a
}

// Client pulls and pushes wasmCloud actors and provider archives (PROTOCOL.md §8) with
// oras-go. It is safe for concurrent use; concurrent pulls of the same reference share one
// download.
type Client struct {
	cfg      Config
	advice   Advice
	log      zerolog.Logger
	http     *http.Client
	cache    *diskCache // nil without CacheDir
	insecure map[string]bool
	flight   singleflight.Group

	mu  sync.RWMutex
	put map[string]lattice.RegistryCredential // from registries.put, by normalized server
}

// DefaultConfig is the configuration of a client without a cache, credentials or plain HTTP,
// that refuses :latest and does not log.
func DefaultConfig() Config {
	return Config{Logger: zerolog.Nop()}
}

// Validate reports what is wrong with c: an allowed insecure registry that is not host[:port], a
// negative layer size limit.
func (c Config) Validate() error {
	var errs []error
	if c.MaxLayerSize < 0 {
		errs = append(errs, fmt.Errorf("max layer size %d: must not be negative", c.MaxLayerSize))
	}
	for _, r := range c.AllowedInsecure {
		if host := normalizeServer(r); host == "" || strings.ContainsAny(host, " \t") {
			errs = append(errs, fmt.Errorf("allowed insecure registry %q: want host[:port]", r))
		}
	}
	return errors.Join(errs...)
}

// NewClient checks cfg and returns a client.
func NewClient(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{
		cfg: cfg, advice: cfg.Advice.withDefaults(), log: cfg.Logger.With().Str("component", "oci").Logger(),
		insecure: map[string]bool{}, put: map[string]lattice.RegistryCredential{},
	}
	for _, r := range cfg.AllowedInsecure {
		c.insecure[normalizeServer(r)] = true
	}
	if c.cfg.MaxLayerSize == 0 {
		c.cfg.MaxLayerSize = DefaultMaxLayerSize
	}
	if cfg.CacheDir != "" {
		c.cache = &diskCache{dir: cfg.CacheDir}
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
func (c *Client) PutCredentials(m lattice.RegistryCredentialMap) (applied int) {
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
func (c *Client) credential(ctx context.Context, reg string) (auth.Credential, string) {
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
func (c *Client) repository(ctx context.Context, r lattice.OCIRef) (*remote.Repository, string) {
	client, source := c.authClient(ctx, r.Registry)
	repo := &remote.Repository{
		Reference: registry.Reference{Registry: endpoint(r.Registry), Repository: r.Repository, Reference: r.Reference()},
		PlainHTTP: c.insecure[normalizeServer(r.Registry)],
		Client:    client,
	}
	return repo, source
}

// authClient is an HTTP client of reg with the credentials chosen for it; source says where
// they came from ("" for anonymous).
func (c *Client) authClient(ctx context.Context, reg string) (*auth.Client, string) {
	cred, source := c.credential(ctx, reg)
	client := &auth.Client{
		Client:     c.http,
		Cache:      auth.NewCache(),
		Credential: func(context.Context, string) (auth.Credential, error) { return cred, nil },
	}
	client.SetUserAgent("trellis")
	return client, source
}

// check parses ref and applies the :latest rule.
func (c *Client) check(ref, op string) (lattice.OCIRef, error) {
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

// explain turns a registry error into its reason, with advice where there is some.
func (c *Client) explain(r lattice.OCIRef, source string, err error, op string) string {
	var resp *errcode.ErrorResponse
	isResp := errors.As(err, &resp)
	switch {
	case errors.Is(err, content.ErrTrailingData):
		return fmt.Sprintf("registry %s sent more than the size it declared: cut off at that size", r.Registry)
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
