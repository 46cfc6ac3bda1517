package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trellis-lattice/trellis/dashboard"
	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/lattice"
)

// hostFlags are the flags `up` and `host` share.
type hostFlags struct {
	nats           natsFlags
	lattice        string
	hostSeed       string
	clusterSeed    string
	clusterIssuers []string
	linkIssuers    []string
	labels         []string
	friendlyName   string
	allowFileLoad  fileLoadFlag
	upFileLoad     bool // up: without --allow-file-load, the working directory and the data dir
	maxArtifact    sizeFlag
	provIssuers    []string
	allowLatest    bool
	allowInsecure  []string
	dataDir        string
	jsDomain       string
	jsReplicas     int
	jsRaise        bool
	rpcTimeout     millis
	provShutdown   millis
	connectTimeout millis
	chunkMaxBytes  int64
	chunkMaxAge    time.Duration
	replayCache    int
	logLevel       string
	logFormat      string
	dashboardAddr  string
	dashboardToken string
	metricsAddr    string
	tokenURL       bool   // up only: print the dashboard's URL with its token
	demoDir        string // up only: deploy the echo demo from this directory
	demoAddress    string
	apps           appFlags
	limits         limitFlags
}

func (f *hostFlags) register(fs *pflag.FlagSet, up bool) {
	def := host.DefaultConfig()
	fs.StringVarP(&f.lattice, "lattice", "x", def.Lattice, "lattice prefix")
	withEnv(fs, "lattice", "WASMCLOUD_LATTICE_PREFIX")
	fs.StringVar(&f.hostSeed, "host-seed", "", "host seed (SN…); generated when empty, so the host id changes on each start")
	withEnv(fs, "host-seed")
	fs.StringVar(&f.clusterSeed, "cluster-seed", "", "cluster seed (SC…, or a PEM ed25519 private key) that signs invocations; all hosts of a lattice should share it")
	withEnv(fs, "cluster-seed")
	fs.StringSliceVar(&f.clusterIssuers, "cluster-issuers", nil, "more cluster public keys (C…) whose invocations are trusted (comma-separated)")
	withEnv(fs, "cluster-issuers")
	fs.StringSliceVar(&f.linkIssuers, "link-issuers", nil, "account keys (A…) whose signed links are applied; empty applies unsigned links too")
	withEnv(fs, "link-issuers")
	fs.StringSliceVarP(&f.labels, "label", "l", nil, "host label KEY=VALUE (repeatable; HOST_<KEY>=VALUE variables add labels too)")
	withEnv(fs, "label")
	fs.StringVar(&f.friendlyName, "friendly-name", "", "human-friendly host name (default: derived from the host id)")
	withEnv(fs, "friendly-name")
	f.upFileLoad = up
	fileLoadDefault := "none"
	if up {
		fileLoadDefault = "the working directory and --data-dir"
	}
	registerFileLoad(fs, &f.allowFileLoad, fileLoadDefault, "directories actor and provider files may be loaded from (comma-separated or repeated; "+
		"symlinks may not lead out of them; bare or true: the working directory; false: none)")
	withEnv(fs, "allow-file-load")
	f.maxArtifact = sizeFlag(def.MaxArtifactSize)
	fs.Var(&f.maxArtifact, "max-artifact-size", "largest actor module or provider archive loaded from a file or an OCI layer (bytes, or with KiB, MiB, GiB)")
	withEnv(fs, "max-artifact-size")
	fs.StringSliceVar(&f.provIssuers, "provider-issuers", nil, "account keys (A…) whose provider archives may run (comma-separated); empty runs archives of any signer")
	withEnv(fs, "provider-issuers")
	fs.BoolVar(&f.allowLatest, "allow-latest", false, "allow OCI references on the :latest tag (or without a tag)")
	withEnv(fs, "allow-latest", "WASMCLOUD_OCI_ALLOW_LATEST")
	fs.StringSliceVar(&f.allowInsecure, "allowed-insecure", nil, "registries (host:port) that may be reached over plain HTTP, comma-separated")
	withEnv(fs, "allowed-insecure", "WASMCLOUD_OCI_ALLOWED_INSECURE")
	fs.StringVar(&f.dataDir, "data-dir", defaultDataDir(), "directory for the compilation cache, providers and (for up) JetStream")
	withEnv(fs, "data-dir")
	fs.StringVar(&f.jsDomain, "js-domain", "", "JetStream domain of the lattice data")
	withEnv(fs, "js-domain")
	fs.IntVar(&f.jsReplicas, "js-replicas", def.JSReplicas, fmt.Sprintf("replicas of the lattice's JetStream buckets this host creates (1 to %d; 3 on a three-server NATS cluster); existing buckets with fewer are reported", lattice.MaxReplicas))
	withEnv(fs, "js-replicas")
	fs.BoolVar(&f.jsRaise, "js-raise-replicas", false, "raise the lattice's buckets that have fewer replicas than --js-replicas (never lowers them)")
	withEnv(fs, "js-raise-replicas")
	f.rpcTimeout = millis(def.RPCTimeout)
	fs.Var(&f.rpcTimeout, "rpc-timeout", "timeout of invocations (duration or milliseconds)")
	withEnvNames(fs, "rpc-timeout", "TRELLIS_RPC_TIMEOUT", "WASMCLOUD_RPC_TIMEOUT_MS")
	f.connectTimeout = millis(def.ConnectTimeout)
	fs.Var(&f.connectTimeout, "connect-timeout", "how long to keep trying to reach NATS and JetStream at start")
	withEnvNames(fs, "connect-timeout", "TRELLIS_CONNECT_TIMEOUT")
	f.provShutdown = millis(def.ProviderShutdownDelay)
	fs.Var(&f.provShutdown, "provider-shutdown-delay", "how long a provider may take to exit after the shutdown request")
	withEnvNames(fs, "provider-shutdown-delay", "TRELLIS_PROVIDER_SHUTDOWN_DELAY", "WASMCLOUD_PROV_SHUTDOWN_DELAY_MS")
	fs.Int64Var(&f.chunkMaxBytes, "chunk-store-max-bytes", lattice.DefaultChunkMaxBytes, "size limit in bytes of the lattice's chunk store (payloads over 900 KiB), set when this host creates it or finds it unlimited")
	withEnv(fs, "chunk-store-max-bytes")
	fs.DurationVar(&f.chunkMaxAge, "chunk-store-max-age", lattice.DefaultChunkMaxAge, "how long a chunked payload nobody took stays in the chunk store (at least 1m)")
	withEnv(fs, "chunk-store-max-age")
	fs.IntVar(&f.replayCache, "replay-cache-size", lattice.DefaultReplayCacheSize, "how many invocation ids the host remembers to refuse replays")
	withEnv(fs, "replay-cache-size")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error or disabled")
	withEnv(fs, "log-level")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format on stderr: text or json")
	withEnv(fs, "log-format")
	fs.StringVar(&f.dashboardAddr, "dashboard-addr", f.dashboardAddr, `address the web dashboard listens on ("" disables it)`)
	withEnv(fs, "dashboard-addr")
	fs.StringVar(&f.dashboardToken, "dashboard-token", "", fmt.Sprintf("token the dashboard requires on its API and websocket (at least %d characters; empty: none)", dashboard.MinTokenLength))
	withEnvNames(fs, "dashboard-token", "TRELLIS_DASHBOARD_TOKEN")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", `address of the Prometheus /metrics and the /livez and /readyz probes ("" disables them), e.g. :9090`)
	withEnv(fs, "metrics-addr")
	f.apps.register(fs)
	f.limits.register(fs)
}

func defaultDataDir() string {
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".trellis", "data")
	}
	return filepath.Join(os.TempDir(), "trellis-data")
}

// config builds the host config from the flags; stderr receives the logs.
func (f *hostFlags) config(stderr io.Writer) (host.Config, error) {
	cfg := host.DefaultConfig()
	cfg.Lattice = f.lattice
	cfg.HostSeed = strings.TrimSpace(f.hostSeed)
	cfg.ClusterSeed = strings.TrimSpace(f.clusterSeed)
	if lattice.IsPEM(cfg.ClusterSeed) { // as the chart generates it
		kp, err := lattice.KeyPairFromPEM(lattice.PrefixCluster, []byte(cfg.ClusterSeed))
		if err != nil {
			return cfg, fmt.Errorf("--cluster-seed: %w", err)
		}
		cfg.ClusterSeed, _ = kp.Seed()
	}
	cfg.ClusterIssuers = cleanList(f.clusterIssuers)
	cfg.LinkIssuers = cleanList(f.linkIssuers)
	cfg.FriendlyName = f.friendlyName
	dirs := cleanList(f.allowFileLoad.dirs)
	if f.upFileLoad && !f.allowFileLoad.changed {
		if err := os.MkdirAll(f.dataDir, 0o755); err != nil {
			return cfg, fmt.Errorf("--data-dir: %w", err)
		}
		dirs = []string{".", f.dataDir}
	}
	for _, d := range dirs { // "." is the directory the host was started in
		abs, err := filepath.Abs(d)
		if err != nil {
			return cfg, fmt.Errorf("--allow-file-load %s: %w", d, err)
		}
		cfg.AllowFileLoad = append(cfg.AllowFileLoad, abs)
	}
	cfg.MaxArtifactSize = int64(f.maxArtifact)
	cfg.ProviderIssuers = cleanList(f.provIssuers)
	cfg.AllowLatest = f.allowLatest
	cfg.AllowedInsecure = cleanList(f.allowInsecure)
	cfg.DockerConfig = dockerConfigPath()
	creds, err := ociEnvCredentials()
	if err != nil {
		return cfg, err
	}
	cfg.RegistryCredentials = creds
	cfg.DataDir = f.dataDir
	cfg.JSDomain = f.jsDomain
	cfg.JSReplicas, cfg.JSRaiseReplicas = f.jsReplicas, f.jsRaise
	cfg.RPCTimeout = time.Duration(f.rpcTimeout)
	cfg.ProviderShutdownDelay = time.Duration(f.provShutdown)
	cfg.ConnectTimeout = time.Duration(f.connectTimeout)
	cfg.ChunkLimits = lattice.ChunkLimits{MaxBytes: f.chunkMaxBytes, MaxAge: f.chunkMaxAge}
	cfg.ReplayCacheSize = f.replayCache
	cfg.Builtins = builtinProviders()
	f.limits.apply(&cfg)
	labels, err := hostLabels(os.Environ(), f.labels)
	if err != nil {
		return cfg, err
	}
	cfg.Labels = labels
	log, err := newLogger(stderr, f.logLevel, f.logFormat)
	if err != nil {
		return cfg, err
	}
	cfg.Logger = log
	return cfg, nil
}

// hostLabels merges HOST_<KEY>=VALUE environment variables (wasmCloud's convention, keys
// lower-cased) with --label flags, which win.
func hostLabels(environ, flags []string) (map[string]string, error) {
	labels := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, "HOST_") && len(k) > len("HOST_") {
			labels[strings.ToLower(strings.TrimPrefix(k, "HOST_"))] = v
		}
	}
	fromFlags, err := parseKeyValues("label", cleanList(flags))
	if err != nil {
		return nil, err
	}
	for k, v := range fromFlags {
		labels[k] = v
	}
	return labels, nil
}

func newLogger(w io.Writer, level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(level))
	if err != nil || level == "" {
		return zerolog.Nop(), fmt.Errorf("--log-level %q: want debug, info, warn, error or disabled", level)
	}
	switch format {
	case "text":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !isTerminal(w)}
	case "json":
	default:
		return zerolog.Nop(), fmt.Errorf("--log-format %q: want text or json", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

func newHostCmd() *cobra.Command {
	var (
		f hostFlags
	)
	cmd := &cobra.Command{
		Use:   "host",
		Short: "Run a host that joins an existing lattice over NATS",
		Long: `Run a host that joins the lattice whose NATS server (with JetStream) is at --nats-url, for
example one started by "trellis up" on another machine. Give every host of a lattice the same
--cluster-seed (or list the others' keys in --cluster-issuers) so they trust each other's
invocations. Without --cluster-seed the keystore's <lattice>_cluster.nk is used when it exists.
Ctrl-C stops the host cleanly.`,
		Example: "  trellis host --nats-url nats://10.0.0.5:4222 --cluster-seed SC… --label zone=eu",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if cfg.NATS, err = f.nats.config(cmd, ""); err != nil {
				return err
			}
			note := "from --cluster-seed"
			if cfg.ClusterSeed == "" {
				ks, err := defaultKeyStore()
				if err != nil {
					return err
				}
				if kp, path, err := ks.load(cfg.Lattice, lattice.PrefixCluster); err == nil {
					cfg.ClusterSeed, _ = kp.Seed()
					note = "from " + path
				} else {
					note = "generated for this run: only this host trusts its invocations (give --cluster-seed)"
				}
			}
			return runHost(cmd, cfg, &f, note)
		},
	}
	fs := cmd.Flags()
	f.nats.register(fs, [][2]string{rpcHostPort, ctlHostPort}, []string{"WASMCLOUD_RPC_CREDSFILE", "WASMCLOUD_CTL_CREDSFILE"}, []string{"WASMCLOUD_RPC_TLS", "WASMCLOUD_CTL_TLS"})
	f.register(fs, false)
	return cmd
}

// isTerminal reports whether w is a character device (a terminal), where colors help.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
