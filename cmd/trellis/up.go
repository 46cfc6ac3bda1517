package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trellis-lattice/trellis/cmd/internal/tracing"
	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/lattice"
)

func newUpCmd() *cobra.Command {
	var (
		f        hostFlags
		natsHost string
		natsPort int
		remote   host.LeafRemote
	)
	f.dashboardAddr = "127.0.0.1:4000"
	f.tokenURL = true
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a lattice on this machine: an embedded NATS server with JetStream and a host",
		Long: `Start an embedded NATS server with JetStream listening on --nats-host:--nats-port (so
other processes and machines can join with "trellis host --nats-url …") and a host on it.

The cluster key comes from --cluster-seed, else the keystore's <lattice>_cluster.nk, which is
generated the first time; "trellis ctl call" on this machine signs with the same key. Ctrl-C
stops the host and the server cleanly.

With --nats-remote-url the embedded server is a leaf node of a shared lattice (the URL of the
hub's leaf node port, 7422 by default): it runs no JetStream, the host keeps its links, claims
and refmaps in the hub's JetStream, reached in its domain (--js-domain, required), and actors
here and on the hub's hosts call each other. The host starts once the leaf connection is up,
within --connect-timeout.`,
		Example: "  trellis up\n  trellis up --nats-port 4223 --lattice dev --label env=dev\n" +
			"  trellis up --nats-remote-url tls://hub.example.com:7422 --nats-remote-creds laptop.creds --js-domain hub",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if natsPort < -1 || natsPort > 65535 {
				return fmt.Errorf("--nats-port %d: want 0-65535 (0 picks a free port)", natsPort)
			}
			port := natsPort
			if port == 0 {
				port = -1 // nats-server: -1 picks a free port, 0 would mean 4222
			} else if err := portFree(natsHost, port); err != nil {
				return err
			}
			if f.nats.tlsVerify && (f.nats.tlsCA == "" || f.nats.tlsCert == "") {
				return fmt.Errorf("--nats-tls-verify: needs --nats-tls-ca (the CA of client certificates) and --nats-tls-cert/--nats-tls-key")
			}
			cfg.EmbeddedNATS, cfg.NATS = f.nats.embedded(natsHost, port)
			if remote.URL != "" {
				r := remote
				cfg.EmbeddedNATS.Remote = &r
			} else if remote.CredsFile != "" || remote.TLSCAFile != "" {
				return fmt.Errorf("--nats-remote-creds and --nats-remote-tls-ca: need --nats-remote-url (the hub's leaf node URL)")
			}
			if f.demoDir != "" { // the demo's files are loaded from there
				cfg.AllowFileLoad = append(cfg.AllowFileLoad, f.demoDir)
			}
			note := "from --cluster-seed"
			if cfg.ClusterSeed == "" {
				ks, err := defaultKeyStore()
				if err != nil {
					return err
				}
				kp, path, created, err := ks.loadOrCreate(cfg.Lattice, lattice.PrefixCluster)
				if err != nil {
					return fmt.Errorf("cluster key: %w", err)
				}
				cfg.ClusterSeed, _ = kp.Seed()
				note = "from " + path
				if created {
					note = "generated and saved in " + path
				}
			}
			return runHost(cmd, cfg, &f, note)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&natsHost, "nats-host", "127.0.0.1", "address the embedded NATS server listens on (0.0.0.0 for other machines)")
	withEnv(fs, "nats-host")
	fs.IntVar(&natsPort, "nats-port", 4222, "port of the embedded NATS server (0 picks a free port)")
	withEnv(fs, "nats-port")
	fs.StringVar(&remote.URL, "nats-remote-url", "", "join a shared lattice: the embedded server becomes a leaf node of the hub at this URL (its leaf node port; nats:// or tls://, user:password@ accepted) and the lattice data is the hub's")
	withEnv(fs, "nats-remote-url", "NATS_REMOTE_URL")
	fs.StringVar(&remote.CredsFile, "nats-remote-creds", "", "credentials file (.creds) of the leaf connection to --nats-remote-url")
	withEnv(fs, "nats-remote-creds", "NATS_CREDSFILE")
	fs.StringVar(&remote.TLSCAFile, "nats-remote-tls-ca", "", "PEM file of the CA that verifies the hub's certificate (turns TLS on for --nats-remote-url)")
	withEnv(fs, "nats-remote-tls-ca")
	f.register(fs, true)
	f.nats.registerServer(fs)
	fs.StringVar(&f.demoDir, "demo", "", "deploy the echo demo from this directory (what `make actors pars` builds, e.g. build): echo actor, httpserver provider, link")
	fs.StringVar(&f.demoAddress, "demo-address", "127.0.0.1:8080", "address the echo demo listens on")
	return cmd
}

// runHost runs a host (and the dashboard, when --dashboard-addr is set) until the command's
// context ends, telling the user how to reach it once it is ready. clusterNote says where the
// cluster key came from.
func runHost(cmd *cobra.Command, cfg host.Config, f *hostFlags, clusterNote string) error {
	// A bad manifest in an app directory fails the start before the host joins the lattice.
	manifests, err := readAppDirs(f.apps.appDirs)
	if err != nil {
		return err
	}
	traces, err := tracing.FromEnv(cmd.Context(), "trellis-host")
	if err != nil {
		return err
	}
	defer func() {
		if err := traces.Shutdown(); err != nil {
			cfg.Logger.Warn().Err(err).Msg("traces not all exported")
		}
	}()
	cfg.TracerProvider = traces.Provider()
	ms, err := listenMetrics(f.metricsAddr)
	if err != nil {
		return err
	}
	defer func() { _ = ms.stop() }()
	if ms != nil {
		cfg.Metrics = ms.registerer()
		cfg.Builtins = builtinProvidersWith(ms.httpMetrics())
	}
	h, err := host.New(cfg)
	if err != nil {
		return err
	}
	dash, err := listenDashboard(f.dashboardAddr, f.dashboardToken)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	select {
	case err := <-done:
		_ = dash.wait()
		if err != nil {
			return fmt.Errorf("host: %w", err)
		}
		return nil // stopped before it was ready
	case <-h.Ready():
	}
	f.apps.linkIssuers = cfg.LinkIssuers
	f.apps.metrics = cfg.Metrics
	f.apps.jsDomain, f.apps.jsReplicas = cfg.JSDomain, cfg.JSReplicas
	apps, err := startApps(ctx, &f.apps, manifests, h.ID(), h.NATS(), cfg.Lattice, cfg.Logger)
	if err != nil {
		cancel()
		<-done
		_ = dash.wait()
		return err
	}
	if dash != nil {
		if err := dash.start(ctx, h.NATS(), cfg, apps.Ready); err != nil {
			cancel()
			<-done
			_ = apps.wait()
			_ = dash.wait()
			return err
		}
	}
	ms.setReady(func() error {
		if err := h.CheckReady(); err != nil {
			return err
		}
		return apps.Ready()
	})
	printHostUp(cmd, h, cfg, dash, ms, f.tokenURL, clusterNote)
	if f.demoDir != "" {
		if err := deployDemo(ctx, h, cfg, f.demoDir, f.demoAddress, cmd.OutOrStdout()); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "Error: %v\n", err)
		}
	}
	err = <-done
	cancel()
	if aerr := apps.wait(); aerr != nil && err == nil {
		err = aerr
	}
	if derr := dash.wait(); derr != nil && err == nil {
		err = derr
	}
	if err != nil {
		return fmt.Errorf("host %s: %w", h.ID(), err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Host %s stopped.\n", h.ID())
	return nil
}

func printHostUp(cmd *cobra.Command, h *host.Host, cfg host.Config, dash *dashboardServer, ms *metricsServer, tokenURL bool, clusterNote string) {
	w := cmd.OutOrStdout()
	url := h.NATSURL()
	var conn, auth []string
	if url != defaultNATSURL {
		conn = append(conn, "--nats-url "+url)
	}
	nc := h.NATS()
	switch {
	case nc.User != "":
		auth = append(auth, "--nats-user "+nc.User+" --nats-password …")
	case nc.Token != "":
		auth = append(auth, "--nats-token …")
	}
	if nc.TLSCAFile != "" {
		auth = append(auth, "--nats-tls-ca "+nc.TLSCAFile)
	}
	if nc.TLSCertFile != "" {
		auth = append(auth, "--nats-tls-cert "+nc.TLSCertFile+" --nats-tls-key "+nc.TLSKeyFile)
	}
	if nc.TLSFirst {
		auth = append(auth, "--nats-tls-first")
	}
	conn = append(conn, auth...)
	if cfg.Lattice != lattice.DefaultLattice {
		conn = append(conn, "--lattice "+cfg.Lattice)
	}
	flags := ""
	if len(conn) > 0 {
		flags = " " + strings.Join(conn, " ")
	}
	fmt.Fprintf(w, "Trellis host %s is up on lattice %q.\n", h.ID(), cfg.Lattice)
	fmt.Fprintf(w, "  NATS:      %s\n", nc)
	if r := cfg.EmbeddedNATS; r != nil && r.Remote != nil {
		js := "the hub's JetStream"
		if cfg.JSDomain != "" {
			js += fmt.Sprintf(" (domain %q)", cfg.JSDomain)
		}
		fmt.Fprintf(w, "  Leaf of:   %s (lattice data in %s)\n", redactURL(r.Remote.URL), js)
	}
	fmt.Fprintf(w, "  Cluster:   %s (%s)\n", h.ClusterPublicKey(), clusterNote)
	fmt.Fprintf(w, "  Providers: sign with %s (derived from the cluster key; a wasmCloud host of this lattice lists it in its cluster issuers)\n", h.ProviderClusterPublicKey())
	fmt.Fprintf(w, "  Data:      %s\n", cfg.DataDir)
	files := "not loaded (--allow-file-load)"
	if len(cfg.AllowFileLoad) > 0 {
		files = "actors and providers load from " + strings.Join(cfg.AllowFileLoad, ", ")
	}
	fmt.Fprintf(w, "  Files:     %s\n", files)
	if dash != nil {
		fmt.Fprintf(w, "  Dashboard: %s\n", dash.describe(tokenURL))
	}
	if ms != nil {
		fmt.Fprintf(w, "  Metrics:   %s   (probes: /livez, /readyz)\n", ms.URL())
	}
	fmt.Fprintln(w, "\nTry:")
	fmt.Fprintf(w, "  trellis ctl get hosts%s\n", flags)
	fmt.Fprintf(w, "  trellis ctl start actor build/actors/echo_s.wasm%s\n", flags)
	fmt.Fprintf(w, "  trellis app deploy examples/echo.yaml%s   (the echo demo, declared)\n", flags)
	fmt.Fprintf(w, "  trellis ctl get inventory %s%s\n", h.ID(), flags)
	hostFlags := ""
	if len(auth) > 0 {
		hostFlags = " " + strings.Join(auth, " ")
	}
	fmt.Fprintf(w, "  trellis host --nats-url %s%s%s   (one more host on this machine)\n", url, hostFlags, latticeFlag(cfg.Lattice))
	fmt.Fprintln(w, "\nPress Ctrl-C to stop.")
}

// redactURL hides a password in a URL.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return s
}

func latticeFlag(l string) string {
	if l == lattice.DefaultLattice {
		return ""
	}
	return " --lattice " + strconv.Quote(l)
}

// portFree fails fast, with advice, when the NATS port is taken (the embedded server would only
// say it is not ready after a while).
func portFree(host string, port int) error {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--nats-port %d: cannot listen on %s (another `trellis up` or nats-server running?): %w; pick another port, or 0 for a free one", port, addr, err)
	}
	return l.Close()
}
