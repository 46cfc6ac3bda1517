package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trellis-lattice/trellis/lattice"
)

const defaultNATSURL = "nats://127.0.0.1:4222"

// ctlFlags are the connection flags every ctl command shares.
type ctlFlags struct {
	nats        natsFlags
	lattice     string
	timeout     millis
	clusterSeed string
	jsDomain    string
	// wash's connection flags: the server as host and port, a user JWT and its seed.
	ctlHost, ctlPort string
	ctlJWT, ctlSeed  string
	jsReplicas       int // app and lattice commands only (registerReplicas)
}

func (f *ctlFlags) register(fs *pflag.FlagSet) {
	f.nats.register(fs, [][2]string{ctlHostPort}, []string{"WASMCLOUD_CTL_CREDSFILE", "WASH_CTL_CREDS"}, []string{"WASMCLOUD_CTL_TLS"})
	fs.StringVarP(&f.lattice, "lattice", "x", lattice.DefaultLattice, "lattice prefix (wash's --lattice-prefix is accepted too)")
	withEnv(fs, "lattice", "WASMCLOUD_LATTICE_PREFIX")
	f.timeout = millis(2 * time.Second)
	fs.VarP(&f.timeout, "ctl-timeout", "t", "how long to wait for the answer to a request: the hosts', or JetStream's for trellis app (duration or milliseconds; wash's --timeout-ms is accepted too)")
	withEnvNames(fs, "ctl-timeout", "TRELLIS_CTL_TIMEOUT", "WASMCLOUD_CTL_TIMEOUT_MS")
	fs.StringVar(&f.clusterSeed, "cluster-seed", "", "cluster seed (SC…, or a PEM ed25519 key) or a file holding it, to sign invocations (default: the keystore's <lattice>_cluster.nk)")
	withEnv(fs, "cluster-seed")
	fs.StringVar(&f.jsDomain, "js-domain", "", "JetStream domain of the lattice's stores (trellis app, trellis lattice)")
	withEnv(fs, "js-domain")
	fs.StringVarP(&f.ctlHost, "ctl-host", "r", "", "NATS host, as wash took it (with --ctl-port; instead of --nats-url)")
	fs.StringVarP(&f.ctlPort, "ctl-port", "p", "", "NATS port, as wash took it (with --ctl-host; instead of --nats-url)")
	fs.StringVar(&f.ctlJWT, "ctl-jwt", "", "NATS user JWT, or a file holding it (with --ctl-seed)")
	withEnvNames(fs, "ctl-jwt", "TRELLIS_CTL_JWT", "WASMCLOUD_CTL_JWT")
	fs.StringVar(&f.ctlSeed, "ctl-seed", "", "NATS user nkey seed (SU…), or a file holding it (with --ctl-jwt, or alone for an nkey user)")
	withEnvNames(fs, "ctl-seed", "TRELLIS_CTL_SEED", "WASMCLOUD_CTL_SEED")
	registerContextFlag(fs)
}

// washFlagNames are wash 0.x's spellings of ctl's flags, accepted as the same flags (they are
// not listed in --help; the flags' usage says so).
var washFlagNames = map[string]string{
	"lattice-prefix":     "lattice",
	"timeout-ms":         "ctl-timeout",
	"auction-timeout-ms": "auction-timeout",
	"rpc-timeout-ms":     "rpc-timeout",
	"ctl-credsfile":      "nats-creds",
	"max-concurrent":     "count",
}

// withWashFlagNames makes cmd and its subcommands accept washFlagNames.
func withWashFlagNames(cmd *cobra.Command) *cobra.Command {
	cmd.SetGlobalNormalizationFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if n, ok := washFlagNames[name]; ok {
			return pflag.NormalizedName(n)
		}
		return pflag.NormalizedName(name)
	})
	return cmd
}

// natsConfig is the connection of the flags: --nats-url and the others, or wash's --ctl-host and
// --ctl-port, and --ctl-jwt / --ctl-seed.
func (f *ctlFlags) natsConfig(cmd *cobra.Command, nf natsFlags) (lattice.NATSConfig, error) {
	fl := cmd.Flags()
	if fl.Changed("ctl-host") || fl.Changed("ctl-port") {
		if fl.Changed("nats-url") {
			return lattice.NATSConfig{}, errors.New("--nats-url and --ctl-host/--ctl-port name the server twice: give one")
		}
		h, p := f.ctlHost, f.ctlPort
		if h == "" {
			h = "127.0.0.1"
		}
		if p == "" {
			p = "4222"
		}
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return lattice.NATSConfig{}, fmt.Errorf("--ctl-port %q: want a port number (1-65535)", p)
		}
		nf.url = "nats://" + net.JoinHostPort(h, p)
		nf.hostPorts = nil
		if err := fl.Set("nats-url", nf.url); err != nil { // Changed now: no variable replaces it
			return lattice.NATSConfig{}, err
		}
	}
	if f.ctlSeed == "" && f.ctlJWT != "" {
		return lattice.NATSConfig{}, errors.New("--ctl-jwt needs its nkey seed: give --ctl-seed too (or --ctl-credsfile with both)")
	}
	jwt, err := valueOrFile("ctl-jwt", f.ctlJWT)
	if err != nil {
		return lattice.NATSConfig{}, err
	}
	seed, err := valueOrFile("ctl-seed", f.ctlSeed)
	if err != nil {
		return lattice.NATSConfig{}, err
	}
	if seed != "" {
		// Checked here, with the other ways to authenticate, so the error names wash's flags.
		c, err := nf.config(cmd, "trellis ctl")
		if err != nil {
			return c, err
		}
		if c.User != "" || c.Token != "" || c.CredsFile != "" {
			return c, errors.New("--ctl-jwt/--ctl-seed and another way to authenticate (--nats-user, --nats-token, --nats-creds) were given: give one")
		}
		c.JWT, c.Seed = jwt, seed
		if err := c.Validate(); err != nil {
			return c, err
		}
		return c, nil
	}
	return nf.config(cmd, "trellis ctl")
}

// valueOrFile is value itself, or the trimmed content of the file it names when such a file
// exists (as wash read --ctl-jwt and --ctl-seed).
func valueOrFile(flag, value string) (string, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return "", nil
	}
	if st, err := os.Stat(v); err == nil && st.Mode().IsRegular() {
		b, err := os.ReadFile(v)
		if err != nil {
			return "", fmt.Errorf("--%s: %w", flag, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return v, nil

}

// registerReplicas adds --js-replicas, for the commands that create buckets or compare them.
func (f *ctlFlags) registerReplicas(fs *pflag.FlagSet, usage string) {
	fs.IntVar(&f.jsReplicas, "js-replicas", 1, usage)
	withEnv(fs, "js-replicas")
}

// ctlSession is a connected control client.
type ctlSession struct {
	*lattice.Client
	nc  *nats.Conn
	url string
}

func (s *ctlSession) close() { s.nc.Close() }

// connect opens the NATS connection and the control client. withSeed resolves the cluster
// seed too (only `ctl call` needs it).
func (f *ctlFlags) connect(cmd *cobra.Command, withSeed bool) (*ctlSession, error) {
	cfg := lattice.DefaultClientConfig()
	cfg.Lattice = f.lattice
	cfg.Timeout = time.Duration(f.timeout)
	if withSeed {
		seed, err := f.resolveClusterSeed()
		if err != nil {
			return nil, err
		}
		cfg.ClusterSeed = seed
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	nf := f.nats
	if withSeed { // ctl call: wash's call connected with the RPC variables
		nf.hostPorts, nf.tlsVars = [][2]string{rpcHostPort, ctlHostPort}, []string{"WASMCLOUD_RPC_TLS", "WASMCLOUD_CTL_TLS"}
	}
	conn, err := f.natsConfig(cmd, nf)
	if err != nil {
		return nil, err
	}
	url := conn.URL()
	opts, err := conn.Options()
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(url, append(opts, nats.Timeout(5*time.Second))...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w (is a lattice running? start one with `trellis up`, or pass --nats-url)", url, err)
	}
	c, err := lattice.NewClient(nc, cfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &ctlSession{Client: c, nc: nc, url: url}, nil
}

// resolveClusterSeed is --cluster-seed (seed or file), else the keystore's cluster key of the
// lattice, which `trellis up` saves.
func (f *ctlFlags) resolveClusterSeed() (string, error) {
	if f.clusterSeed != "" {
		kp, err := seedOrFile("cluster-seed", f.clusterSeed, lattice.PrefixCluster)
		if err != nil {
			return "", err
		}
		return kp.Seed()
	}
	ks, err := defaultKeyStore()
	if err != nil {
		return "", err
	}
	kp, path, err := ks.load(f.lattice, lattice.PrefixCluster)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no cluster seed: %s does not exist; pass --cluster-seed (or TRELLIS_CLUSTER_SEED / WASMCLOUD_CLUSTER_SEED) with the seed the hosts use, or run `trellis up` on this machine, which saves it there", path)
	}
	if err != nil {
		return "", err
	}
	return kp.Seed()
}

func newCtlCmd() *cobra.Command {
	f := &ctlFlags{}
	cmd := &cobra.Command{
		Use:   "ctl",
		Short: "Drive a lattice: list hosts, start and stop actors, manage links, call actors",
		Long: `Drive a lattice through its control interface over NATS. Every command connects to
--nats-url (default nats://127.0.0.1:4222) and acts on --lattice (default "default").
Tables by default; -o json for scripts.

wash 0.x's forms work too: its flags (-r/--ctl-host, -p/--ctl-port, --ctl-credsfile,
--ctl-jwt/--ctl-seed, -t/--timeout-ms, --auction-timeout-ms, --rpc-timeout-ms,
-x/--lattice-prefix), its argument orders with the host first (stop, scale, update), and its
top-level commands: trellis get|start|stop|scale|update|link|call run these.`,
	}
	f.register(cmd.PersistentFlags())
	cmd.AddCommand(newCtlGetCmd(f), newCtlStartCmd(f), newCtlStopCmd(f), newCtlScaleCmd(f),
		newCtlUpdateCmd(f), newCtlLinkCmd(f), newCtlCallCmd(f))
	return withWashFlagNames(cmd)
}

// chooseHost returns hostID when given; otherwise the only host of the lattice, or an error
// listing the hosts to choose from.
func chooseHost(ctx context.Context, s *ctlSession, hostID, what string) (string, error) {
	if hostID != "" {
		if err := lattice.CheckPublicKey(lattice.PrefixServer, hostID); err != nil {
			return "", fmt.Errorf("--host-id: %w", err)
		}
		return hostID, nil
	}
	hosts, err := s.hosts(ctx)
	if err != nil {
		return "", err
	}
	switch len(hosts) {
	case 0:
		return "", noHostsError(s)
	case 1:
		return hosts[0].ID, nil
	}
	return "", fmt.Errorf("%s: %d hosts answered on lattice %s; pick one with --host-id:\n%s", what, len(hosts), s.Lattice(), describeHosts(hosts))
}

// hosts pings the lattice's hosts. A lattice nobody answers for is an empty list here, however
// the NATS client reports it.
func (s *ctlSession) hosts(ctx context.Context) ([]lattice.Host, error) {
	hosts, err := s.GetHosts(ctx)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, nil
	}
	return hosts, err
}

func noHostsError(s *ctlSession) error {
	return fmt.Errorf("%w ping on lattice %q at %s: is a host running? start one with `trellis up`", lattice.ErrNoHost, s.Lattice(), s.url)
}

func describeHosts(hosts []lattice.Host) string {
	var b strings.Builder
	for _, h := range hosts {
		fmt.Fprintf(&b, "  %s  %s  %s\n", h.ID, h.FriendlyName, formatMap(h.Labels))
	}
	return strings.TrimRight(b.String(), "\n")
}
