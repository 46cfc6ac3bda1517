package host

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/oci"
)

// Config is everything a host needs. Build it from DefaultConfig and adjust.
type Config struct {
	// Lattice is the lattice prefix {L}.
	Lattice string
	// NATS is the connection to the lattice's NATS servers; its providers get the same one. With
	// EmbeddedNATS its Servers are ignored (the host connects to the server it started) and its
	// credentials and TLS CA are the ones the embedded server requires.
	NATS lattice.NATSConfig
	// EmbeddedNATS, when set, makes the host start its own nats-server with JetStream.
	EmbeddedNATS *EmbeddedNATS
	// ConnectTimeout is how long the host keeps trying to reach NATS and the lattice's JetStream
	// bucket when it starts (a NATS server started alongside, as in a Helm release, may not be
	// ready yet). Once connected, the host reconnects for as long as it runs.
	ConnectTimeout time.Duration

	// HostSeed is the host's identity (S N…); generated when empty.
	HostSeed string
	// ClusterSeed signs invocations (S C…); generated when empty, which only suits one host.
	ClusterSeed string
	// ClusterIssuers are additional cluster public keys whose invocations are trusted; the
	// cluster key's own public key is always trusted.
	ClusterIssuers []string
	// LinkIssuers, when non-empty, are the only account keys whose signed links are applied.
	LinkIssuers []string

	Labels       map[string]string
	FriendlyName string
	// AllowFileLoad are the directories actor and provider references that are file paths may
	// be read from (fileref.go); empty: none, references are OCI references only. A path is
	// read only when it lies under one of them with its symlinks evaluated, and only when it is
	// a regular file.
	AllowFileLoad []string
	// MaxArtifactSize is the largest actor module or provider archive the host reads, from a
	// file or as an OCI layer, in bytes.
	MaxArtifactSize int64
	// ProviderIssuers, when non-empty, are the only account keys (A…) whose provider archives
	// run: an archive signed by another account is refused before anything of it is extracted.
	// Built-in providers (wasmcloud+builtin://) are not archives and are not affected.
	ProviderIssuers []string
	// DataDir holds extracted providers and, unless CacheDir is set, the compilation cache.
	DataDir string
	// CacheDir holds wazero's compilation cache; default DataDir/wazero. Hosts may share it.
	CacheDir string

	// AllowLatest lets actors and providers be started from OCI references on the "latest" tag.
	AllowLatest bool
	// AllowedInsecure lists the registries (host:port) that may be reached over plain HTTP.
	AllowedInsecure []string
	// RegistryCredentials are registry credentials by server (e.g. from OCI_REGISTRY,
	// OCI_REGISTRY_USER, OCI_REGISTRY_PASSWORD); those sent with registries.put come first.
	RegistryCredentials lattice.RegistryCredentialMap
	// DockerConfig is a docker config.json whose credentials are tried after those; "" for none.
	DockerConfig string

	RPCTimeout        time.Duration
	HeartbeatInterval time.Duration
	// ActorIdleTimeout is how long an actor's wasm instance may wait idle before it is closed,
	// down to the actor's min instances (0 by default): an actor left alone sits at zero
	// instances, compiled and subscribed, and its next call makes an instance. 0 keeps idle
	// instances open. Default DefaultActorIdleTimeout.
	ActorIdleTimeout time.Duration
	// ProviderShutdownDelay is how long a provider has to exit after the shutdown request.
	ProviderShutdownDelay time.Duration
	// ProviderHealthDelay and ProviderHealthInterval time the provider health checks: the first
	// after the delay, then one per interval.
	ProviderHealthDelay    time.Duration
	ProviderHealthInterval time.Duration
	JSDomain               string
	Version                string

	// JSReplicas is the replica count of the lattice's JetStream buckets this host creates (the
	// lattice data and the chunk store; cmd gives the same count to the reconciler's buckets):
	// 1 on a single NATS server, 3 on a three-server cluster. At start the host reports every
	// bucket of the lattice that exists with fewer (a warning and a bucket_replicas_low event).
	JSReplicas int
	// JSRaiseReplicas makes the host raise such a bucket to JSReplicas instead (an update of its
	// stream; JetStream copies the data). Replicas are never lowered.
	JSRaiseReplicas bool

	// ChunkLimits bound the lattice's chunk store (payloads over lattice.MaxInlinePayload) when
	// this host creates it, or finds it without limits; zero values are the defaults.
	ChunkLimits lattice.ChunkLimits
	// ReplayCacheSize is how many invocation ids the host remembers to refuse replays; 0 is
	// lattice.DefaultReplayCacheSize.
	ReplayCacheSize int
	// Limits (host/limits.go, host/memory.go): each refuses what passes it with an error naming
	// the limit, and the host keeps serving.
	//
	// MaxActorMemoryPages bounds each actor instance's memory in 64 KiB wasm pages; an actor may
	// ask for less with the start annotation trellis.dev/max-memory-pages.
	MaxActorMemoryPages uint32
	// MaxInvocationBytes bounds an invocation's payload, inline or chunked, that this host's actors
	// accept.
	MaxInvocationBytes int64
	// MaxControlBytes bounds a control request (PROTOCOL.md §5) this host reads.
	MaxControlBytes int
	// MaxLinkValueBytes bounds one link value (key and value); MaxLinkBytes all values of a link.
	MaxLinkValueBytes int
	MaxLinkBytes      int
	// MaxLinks bounds the number of links in the lattice that a link put may reach.
	MaxLinks int

	// Builtins are the providers this host can run in process, by reference
	// (wasmcloud+builtin://NAME, see builtin_provider.go); cmd registers them.
	Builtins map[string]BuiltinProvider

	// Logger receives the host's logs; disabled by default.
	Logger zerolog.Logger
	// Metrics, when set, receives the host's Prometheus metrics (metrics.go); nil counts nothing.
	Metrics prometheus.Registerer
	// TracerProvider makes the host's spans (tracing.go); nil, the default, makes none.
	TracerProvider trace.TracerProvider
}

// DefaultActorIdleTimeout is the default of Config.ActorIdleTimeout: an actor that served no call
// for this long holds no instance (a Go wasip1 instance holds a few MiB) and makes one again, in
// milliseconds from its compiled code, on its next call.
const DefaultActorIdleTimeout = 5 * time.Minute

// DefaultMaxArtifactSize is the default of Config.MaxArtifactSize: room for Go actors of tens of
// MiB and for provider archives with a binary for each of several platforms.
const DefaultMaxArtifactSize = oci.DefaultMaxLayerSize

// EmbeddedNATS configures the nats-server a host starts for itself.
type EmbeddedNATS struct {
	Host string // default 127.0.0.1
	Port int    // -1 picks a free port
	// StoreDir is JetStream's file store; default DataDir/jetstream.
	StoreDir string
	// User and Password, or Token, are required of every client when set.
	User, Password, Token string
	// TLSCertFile and TLSKeyFile make the server serve TLS only; with TLSCAFile it also requires
	// client certificates signed by that CA.
	TLSCertFile, TLSKeyFile, TLSCAFile string
	// TLSFirst makes the server expect the TLS handshake before its INFO.
	TLSFirst bool
	// Remote, when set, makes the server a leaf node of a shared lattice's NATS: it runs no
	// JetStream of its own, so the host's lattice data (links, claims, refmaps, chunks) is the
	// hub's, reached through the leaf connection (with Config.JSDomain when the hub's JetStream
	// has a domain). The host starts once the leaf connection is up.
	Remote *LeafRemote
}

// LeafRemote is the hub an embedded server joins as a leaf node.
type LeafRemote struct {
	// URL of the hub's leaf node listener (nats-server's leafnodes port, 7422 by default):
	// nats:// or tls:// (ws:// and wss:// too), user:password@ accepted.
	URL string
	// CredsFile is a .creds file (user JWT and nkey seed) the leaf connection authenticates with.
	CredsFile string
	// TLSCAFile verifies the hub's certificate (a private CA) and turns TLS on; without it a
	// tls:// URL is verified against the system's roots.
	TLSCAFile string
}

// DefaultConfig returns a config for a single host on the default lattice.
func DefaultConfig() Config {
	dir := filepath.Join(os.TempDir(), "trellis")
	if home, err := os.UserHomeDir(); err == nil {
		dir = filepath.Join(home, ".trellis", "host")
	}
	return Config{
		Lattice:                lattice.DefaultLattice,
		NATS:                   lattice.NATSConfig{Servers: []string{"nats://127.0.0.1:4222"}},
		Labels:                 map[string]string{},
		DataDir:                dir,
		MaxArtifactSize:        DefaultMaxArtifactSize,
		RPCTimeout:             lattice.DefaultRPCTimeout * time.Millisecond,
		ConnectTimeout:         time.Minute,
		HeartbeatInterval:      30 * time.Second,
		ActorIdleTimeout:       DefaultActorIdleTimeout,
		ProviderShutdownDelay:  2 * time.Second,
		ProviderHealthDelay:    5 * time.Second,
		ProviderHealthInterval: 30 * time.Second,
		Version:                "0.1.0",
		JSReplicas:             1,
		MaxActorMemoryPages:    DefaultMaxActorMemoryPages,
		MaxInvocationBytes:     DefaultMaxInvocationBytes,
		MaxControlBytes:        DefaultMaxControlBytes,
		MaxLinkValueBytes:      DefaultMaxLinkValueBytes,
		MaxLinkBytes:           DefaultMaxLinkBytes,
		MaxLinks:               DefaultMaxLinks,
		Logger:                 zerolog.Nop(),
	}
}

// Validate reports the first thing wrong with the config.
func (c *Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.Lattice) == "" || strings.ContainsAny(c.Lattice, ". *>") {
		errs = append(errs, fmt.Errorf("lattice %q: must be non-empty without dots, spaces or wildcards", c.Lattice))
	}
	if e := c.EmbeddedNATS; e == nil {
		if err := c.NATS.Validate(); err != nil {
			errs = append(errs, err)
		}
	} else {
		if err := e.validate(); err != nil {
			errs = append(errs, err)
		}
		if e.Remote != nil && c.JSDomain == "" {
			errs = append(errs, errors.New("embedded nats as a leaf node: needs the JetStream domain of the hub (--js-domain), as a leaf connection carries JetStream's API only under $JS.<domain>.API; give the hub's JetStream a domain if it has none"))
		}
		n := c.NATS
		n.Servers = []string{"nats://127.0.0.1:4222"} // replaced by the embedded server's URL
		if err := n.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.HostSeed != "" {
		if kp, err := lattice.KeyPairFromSeed(c.HostSeed); err != nil {
			errs = append(errs, fmt.Errorf("host seed: %w", err))
		} else if kp.Prefix() != lattice.PrefixServer {
			errs = append(errs, fmt.Errorf("host seed: is a %s seed, want a server seed (SN…)", kp.Prefix()))
		}
	}
	if c.ClusterSeed != "" {
		if kp, err := lattice.KeyPairFromSeed(c.ClusterSeed); err != nil {
			errs = append(errs, fmt.Errorf("cluster seed: %w", err))
		} else if kp.Prefix() != lattice.PrefixCluster {
			errs = append(errs, fmt.Errorf("cluster seed: is a %s seed, want a cluster seed (SC…)", kp.Prefix()))
		}
	}
	for _, k := range c.ClusterIssuers {
		if err := lattice.CheckPublicKey(lattice.PrefixCluster, k); err != nil {
			errs = append(errs, fmt.Errorf("cluster issuer: %w", err))
		}
	}
	for _, k := range c.LinkIssuers {
		if err := lattice.CheckPublicKey(lattice.PrefixAccount, k); err != nil {
			errs = append(errs, fmt.Errorf("link issuer: %w", err))
		}
	}
	for _, k := range c.ProviderIssuers {
		if err := lattice.CheckPublicKey(lattice.PrefixAccount, k); err != nil {
			errs = append(errs, fmt.Errorf("provider issuer: %w", err))
		}
	}
	if c.MaxArtifactSize <= 0 {
		errs = append(errs, errors.New("max artifact size: must be positive"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data dir: empty"))
	}
	if err := c.ociConfig().Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.RPCTimeout <= 0 {
		errs = append(errs, errors.New("rpc timeout: must be positive"))
	}
	if err := c.ChunkLimits.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := lattice.CheckReplicas(c.JSReplicas); err != nil {
		errs = append(errs, fmt.Errorf("jetstream %w", err))
	}
	if c.ReplayCacheSize < 0 {
		errs = append(errs, fmt.Errorf("replay cache size %d: must not be negative", c.ReplayCacheSize))
	}
	if c.ConnectTimeout <= 0 {
		errs = append(errs, errors.New("connect timeout: must be positive"))
	}
	if c.ProviderShutdownDelay <= 0 || c.ProviderHealthDelay <= 0 || c.ProviderHealthInterval <= 0 {
		errs = append(errs, errors.New("provider shutdown delay, health delay and health interval: must be positive"))
	}
	if c.ActorIdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("actor idle timeout %s: must not be negative (0 keeps idle instances)", c.ActorIdleTimeout))
	}
	if c.HeartbeatInterval <= 0 {
		errs = append(errs, errors.New("heartbeat interval: must be positive"))
	}
	errs = append(errs, c.validateLimits()...)
	errs = append(errs, validateBuiltins(c.Builtins)...)
	return errors.Join(errs...)
}

// validate names the first thing wrong with the embedded server's settings.
func (e *EmbeddedNATS) validate() error {
	switch {
	case e.Password != "" && e.User == "":
		return errors.New("embedded nats: a password without a user")
	case e.User != "" && e.Password == "":
		return errors.New("embedded nats: a user without a password")
	case e.User != "" && e.Token != "":
		return errors.New("embedded nats: both a user/password and a token: give one")
	case (e.TLSCertFile == "") != (e.TLSKeyFile == ""):
		return errors.New("embedded nats: a TLS certificate needs its key (and a key its certificate)")
	case e.TLSCAFile != "" && e.TLSCertFile == "":
		return errors.New("embedded nats: a TLS CA to verify clients needs a server certificate and key")
	case e.TLSFirst && e.TLSCertFile == "":
		return errors.New("embedded nats: TLS first needs a server certificate and key")
	}
	if e.TLSCertFile != "" {
		if _, err := e.tlsConfig(); err != nil {
			return err
		}
	}
	if e.Remote != nil {
		if _, err := e.Remote.options(); err != nil {
			return err
		}
	}
	return nil
}

// tlsConfig is the embedded server's TLS: its certificate, and client verification by the CA.
func (e *EmbeddedNATS) tlsConfig() (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(e.TLSCertFile, e.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: TLS certificate %s and key %s: %w", e.TLSCertFile, e.TLSKeyFile, err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	if e.TLSCAFile != "" {
		ca, err := os.ReadFile(e.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("embedded nats: TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("embedded nats: TLS CA %s: no PEM certificate in it", e.TLSCAFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}
