package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/oam"
	"github.com/trellis-lattice/trellis/reconciler"
)

// appFlags are the flags of `up` and `host` for declarative apps.
type appFlags struct {
	reconcile     bool
	appDirs       []string
	appOwner      string
	interval      millis
	leaseTTL      millis
	readyWaitApps bool
	linkAccount   string
	linkIssuers   []string              // the host's --link-issuers, set before startApps
	metrics       prometheus.Registerer // the host process's registry (--metrics-addr), set before startApps; nil: none
	jsDomain      string                // the host's --js-domain, set before startApps
	jsReplicas    int                   // the host's --js-replicas, set before startApps
}

func (f *appFlags) register(fs *pflag.FlagSet) {
	def := reconciler.DefaultConfig()
	fs.BoolVar(&f.reconcile, "reconcile", true, "take part in reconciling the lattice's deployed apps (one host at a time acts)")
	withEnv(fs, "reconcile")
	fs.StringSliceVar(&f.appDirs, "app-dir", nil, "directory of app manifests (*.yaml, *.yml, *.json) to put and deploy at start (repeatable)")
	withEnv(fs, "app-dir")
	fs.StringVar(&f.appOwner, "app-owner", "", `owner recorded on the apps from --app-dir; apps of this owner no longer in them are undeployed (default "app-dir" when --app-dir is given)`)
	withEnv(fs, "app-owner")
	f.interval = millis(def.Interval)
	fs.Var(&f.interval, "reconcile-interval", "longest time between two reconcile passes (events bring them sooner)")
	withEnv(fs, "reconcile-interval")
	f.leaseTTL = millis(def.LeaseTTL)
	fs.Var(&f.leaseTTL, "reconcile-lease-ttl", "how long the reconciler lease outlives a host that died holding it")
	withEnv(fs, "reconcile-lease-ttl")
	fs.StringVar(&f.linkAccount, "link-account", "", "account seed (SA…), PEM key or a file holding one, with which the reconciler signs the links it puts; "+
		"needed when --link-issuers is set, and must be one of them")
	withEnvNames(fs, "link-account", "TRELLIS_LINK_ACCOUNT")
	fs.BoolVar(&f.readyWaitApps, "ready-wait-apps", true, "report ready (/api/readyz) only once this host runs its share of the deployed apps")
	withEnv(fs, "ready-wait-apps")
}

// owner is the app owner in effect: the flag, else "app-dir" when directories are given.
func (f *appFlags) owner() string {
	if f.appOwner != "" {
		return f.appOwner
	}
	if len(f.appDirs) > 0 {
		return "app-dir"
	}
	return ""
}

// appsPart is what a host command runs for declarative apps beside the host: its reconciler, the
// apps of its app directories, and the readiness that waits for its share of them.
type appsPart struct {
	nc    *nats.Conn
	store *app.Store
	rec   *reconciler.Reconciler
	ready atomic.Bool
	done  chan error
}

// startApps starts the reconciler, applies the manifests of the app directories (read before the
// host starts, with readAppDirs), and watches for this host's share to run.
func startApps(ctx context.Context, f *appFlags, manifests []*oam.Manifest, hostID string, conn lattice.NATSConfig, latticeName string, log zerolog.Logger) (*appsPart, error) {
	nc, err := connectLattice(conn, "trellis reconciler")
	if err != nil {
		return nil, err
	}
	js, err := lattice.NewJetStream(nc, f.jsDomain)
	if err != nil {
		nc.Close()
		return nil, err
	}
	store, err := app.OpenStore(ctx, js, latticeName, f.jsReplicas)
	if err != nil {
		nc.Close()
		return nil, err
	}
	p := &appsPart{nc: nc, store: store, done: make(chan error, 1)}
	if owner := f.owner(); owner != "" {
		applied, err := store.Apply(ctx, manifests, owner)
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("apps from %s: %w", strings.Join(f.appDirs, ", "), err)
		}
		for _, a := range applied {
			log.Info().Str("app", a.Name).Str("version", a.Version).Str("owner", owner).Msg("app " + a.Action)
		}
	}
	if f.reconcile {
		cfg := reconciler.DefaultConfig()
		cfg.Lattice, cfg.HostID, cfg.Logger = latticeName, hostID, log
		cfg.Interval, cfg.LeaseTTL = time.Duration(f.interval), time.Duration(f.leaseTTL)
		cfg.LinkIssuers = f.linkIssuers
		cfg.Metrics = f.metrics
		cfg.JSDomain, cfg.Replicas = f.jsDomain, max(f.jsReplicas, 1)
		if f.linkAccount != "" {
			if cfg.LinkAccount, err = seedOrFile("link-account", f.linkAccount, lattice.PrefixAccount); err != nil {
				nc.Close()
				return nil, err
			}
		}
		if p.rec, err = reconciler.New(nc, cfg); err != nil {
			nc.Close()
			return nil, err
		}
	}
	go func() {
		var err error
		if p.rec != nil {
			err = p.rec.Run(ctx)
		} else {
			<-ctx.Done()
		}
		p.done <- err
	}()
	if f.readyWaitApps {
		go p.awaitShare(ctx, hostID, log)
	} else {
		p.ready.Store(true)
	}
	return p, nil
}

// Ready reports whether this host runs its share of the deployed apps (once it has, it stays
// ready: later changes are the reconciler's to fix, not a reason to take the host out of
// Services).
func (p *appsPart) Ready() error {
	if p == nil || p.ready.Load() {
		return nil
	}
	return errors.New("this host does not run its share of the deployed apps yet")
}

func (p *appsPart) awaitShare(ctx context.Context, hostID string, log zerolog.Logger) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		if ok, _ := reconciler.HostReady(ctx, p.store, hostID); ok {
			p.ready.Store(true)
			log.Info().Msg("this host runs its share of the deployed apps")
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// wait returns once the reconciler has stopped (its context ended), closing the connection.
func (p *appsPart) wait() error {
	if p == nil {
		return nil
	}
	err := <-p.done
	p.nc.Close()
	return err
}

// readAppDirs parses every manifest file directly in the directories. ConfigMap volumes hold
// their keys as symbolic links next to dot-directories; both are handled.
func readAppDirs(dirs []string) ([]*oam.Manifest, error) {
	var out []*oam.Manifest
	from := map[string]string{}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("--app-dir: %w", err)
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") || !manifestFileName(name) {
				continue
			}
			path := filepath.Join(dir, name)
			if st, err := os.Stat(path); err != nil || st.IsDir() {
				continue
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("--app-dir: %w", err)
			}
			m, err := oam.Parse(data)
			if err != nil {
				return nil, fmt.Errorf("app manifest %s: %w", path, err)
			}
			if first, ok := from[m.Metadata.Name]; ok {
				return nil, fmt.Errorf("app manifest %s: app %s is also in %s", path, m.Metadata.Name, first)
			}
			from[m.Metadata.Name] = path
			out = append(out, m)
		}
	}
	return out, nil
}
