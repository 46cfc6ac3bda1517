package host

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trellis-lattice/trellis/lattice"
)

// connect starts the embedded server when asked, then connects and opens the lattice store.
func (h *Host) connect(ctx context.Context) error {
	conn := h.cfg.NATS
	// At start the server may not be up yet: keep trying until ConnectTimeout, saying so.
	cctx, ccancel := context.WithTimeout(ctx, h.cfg.ConnectTimeout)
	defer ccancel()
	if e := h.cfg.EmbeddedNATS; e != nil {
		ns, err := h.startEmbedded(cctx, e)
		if err != nil {
			return err
		}
		h.ns = ns
		conn.Servers = []string{ns.ClientURL()}
		if e.TLSCertFile != "" {
			conn.TLS = true
		}
	}
	conn, err := conn.Normalize()
	if err != nil {
		return err
	}
	h.conn = conn
	url := conn.URL()
	opts, err := conn.Options()
	if err != nil {
		return err
	}
	opts = append(opts,
		nats.Name("trellis host "+h.ID()),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				h.log.Warn().Err(err).Msg("nats disconnected")
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { h.log.Info().Msg("nats reconnected") }),
	)
	var nc *nats.Conn
	err = h.untilReady(cctx, "nats "+url, func() (err error) {
		nc, err = nats.Connect(url, opts...)
		return err
	})
	if err != nil {
		return fmt.Errorf("connect to nats %s: %w", url, err)
	}
	h.nc = nc
	if e := h.cfg.EmbeddedNATS; e != nil && e.Remote != nil {
		if err := h.waitHubJetStream(cctx, nc); err != nil {
			return err
		}
	}
	js, err := lattice.NewJetStream(nc, h.cfg.JSDomain)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	h.js = js
	var st *lattice.Store
	err = h.untilReady(cctx, "jetstream bucket "+h.subj.Bucket(), func() (err error) {
		sctx, cancel := context.WithTimeout(cctx, 10*time.Second)
		defer cancel()
		st, err = lattice.OpenStore(sctx, js, h.cfg.Lattice, h.cfg.JSReplicas)
		return err
	})
	if err != nil && h.cfg.JSReplicas > 1 {
		return fmt.Errorf("open lattice store %s with %d replicas (does %s run a NATS cluster of %d JetStream servers, all up?): %w",
			h.subj.Bucket(), h.cfg.JSReplicas, url, h.cfg.JSReplicas, err)
	}
	if err != nil {
		return fmt.Errorf("open lattice store %s (is JetStream enabled on %s?): %w", h.subj.Bucket(), url, err)
	}
	h.store = st
	limits := h.cfg.ChunkLimits
	limits.Replicas = h.cfg.JSReplicas
	chunks := lattice.NewChunks(nc, h.cfg.JSDomain, h.cfg.Lattice, limits, h.log)
	h.chunks = chunks
	h.caller = lattice.NewCaller(nc, h.cluster, h.ID(), h.subj, chunks, h.cfg.RPCTimeout).WithTracer(h.cfg.TracerProvider)
	h.server = &lattice.Server{Issuers: h.issuers, Chunks: chunks, Timeout: h.cfg.RPCTimeout, ReplayCacheSize: h.cfg.ReplayCacheSize, Log: h.log,
		Tracer: h.tracer}
	return nil
}

// untilReady calls try until it succeeds, ctx ends, or the error cannot go away by waiting
// (credentials refused), logging the first failure and then every ten seconds.
func (h *Host) untilReady(ctx context.Context, what string, try func() error) error {
	wait := 100 * time.Millisecond
	var logged time.Time
	for {
		err := try()
		if err == nil || permanent(err) {
			return err
		}
		if time.Since(logged) >= 10*time.Second {
			h.log.Warn().Err(err).Msgf("waiting for %s", what)
			logged = time.Now()
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// permanent reports errors that waiting does not cure.
func permanent(err error) bool {
	for _, e := range []error{nats.ErrAuthorization, nats.ErrAuthExpired, nats.ErrAuthRevoked,
		jetstream.ErrJetStreamNotEnabled, jetstream.ErrJetStreamNotEnabledForAccount} {
		if errors.Is(err, e) {
			return true
		}
	}
	return lattice.ReplicasUnsupported(err) // a server not in a cluster stays so

}

// startEmbedded runs a nats-server with JetStream on a file store, or, as a leaf node of
// e.Remote, without JetStream once its leaf connection is up (leaf.go); ctx bounds the wait.
func (h *Host) startEmbedded(ctx context.Context, e *EmbeddedNATS) (*server.Server, error) {
	dataDir := h.cfg.DataDir
	host := e.Host
	if host == "" {
		host = "127.0.0.1"
	}
	store := e.StoreDir
	if store == "" {
		store = filepath.Join(dataDir, "jetstream")
	}
	opts := &server.Options{
		ServerName:    "trellis",
		Host:          host,
		Port:          e.Port,
		JetStream:     true,
		StoreDir:      store,
		NoLog:         true,
		NoSigs:        true,
		Username:      e.User,
		Password:      e.Password,
		Authorization: e.Token,
	}
	if e.TLSCertFile != "" {
		tc, err := e.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts.TLSConfig = tc
		opts.TLS = true
		opts.TLSVerify = e.TLSCAFile != ""
		opts.TLSHandshakeFirst = e.TLSFirst
	}
	var rec *leafLog
	if e.Remote != nil {
		ro, err := e.Remote.options()
		if err != nil {
			return nil, err
		}
		// The leaf's lattice data is the hub's (leaf.go); its name is this host's, as two
		// laptops joining one hub must not share a server name.
		opts.ServerName = "trellis-leaf-" + h.ID()[:12]
		opts.JetStream = false
		opts.LeafNode.Remotes = []*server.RemoteLeafOpts{ro}
		rec = &leafLog{log: h.log.With().Str("component", "nats-leaf").Logger()}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if rec != nil {
		ns.SetLoggerV2(rec, true, false, false)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded nats on %s:%d: not ready after 10s (port in use?)", host, e.Port)
	}
	if rec != nil {
		if err := waitLeaf(ctx, ns, rec, redactURL(e.Remote.URL)); err != nil {
			ns.Shutdown()
			ns.WaitForShutdown()
			return nil, err
		}
	}
	return ns, nil
}
