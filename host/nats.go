package host

import (
	"context"
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
	url := h.cfg.NATSURL
	if e := h.cfg.EmbeddedNATS; e != nil {
		ns, err := startEmbedded(e, h.cfg.DataDir)
		if err != nil {
			return err
		}
		h.ns = ns
		url = ns.ClientURL()
	}
	opts := []nats.Option{
		nats.Name("trellis host " + h.ID()),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				h.log.Warn().Err(err).Msg("nats disconnected")
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { h.log.Info().Msg("nats reconnected") }),
	}
	if h.cfg.NATSCredsFile != "" {
		opts = append(opts, nats.UserCredentials(h.cfg.NATSCredsFile))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("connect to nats %s: %w", url, err)
	}
	h.nc = nc
	var jsOpts []jetstream.JetStreamOpt
	var js jetstream.JetStream
	if h.cfg.JSDomain != "" {
		js, err = jetstream.NewWithDomain(nc, h.cfg.JSDomain, jsOpts...)
	} else {
		js, err = jetstream.New(nc, jsOpts...)
	}
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	h.js = js
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := lattice.OpenStore(sctx, js, h.cfg.Lattice, 1)
	if err != nil {
		return fmt.Errorf("open lattice store %s (is JetStream enabled on %s?): %w", h.subj.Bucket(), url, err)
	}
	h.store = st
	h.chunks = lattice.NewChunks(nc, h.cfg.JSDomain, h.cfg.Lattice, h.log)
	return nil
}

// startEmbedded runs a nats-server with JetStream on a file store.
func startEmbedded(e *EmbeddedNATS, dataDir string) (*server.Server, error) {
	host := e.Host
	if host == "" {
		host = "127.0.0.1"
	}
	store := e.StoreDir
	if store == "" {
		store = filepath.Join(dataDir, "jetstream")
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "trellis",
		Host:       host,
		Port:       e.Port,
		JetStream:  true,
		StoreDir:   store,
		NoLog:      true,
		NoSigs:     true,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded nats on %s:%d: not ready after 10s (port in use?)", host, e.Port)
	}
	return ns, nil
}
