package main

import (
	"context"
	"fmt"
	"net"
	"net/url"

	"github.com/nats-io/nats.go"

	"github.com/trellis-lattice/trellis/dashboard"
	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/lattice"
)

// dashboardServer is the web dashboard a host command serves on --dashboard-addr.
type dashboardServer struct {
	ln    net.Listener
	token string // --dashboard-token
	done  chan error
	nc    *nats.Conn
}

// listenDashboard checks the token and binds addr before the host starts, so a taken port or a
// bad token fails at once; an empty addr disables the dashboard.
func listenDashboard(addr, token string) (*dashboardServer, error) {
	if addr == "" {
		return nil, nil
	}
	if err := dashboard.CheckToken(token); err != nil {
		return nil, fmt.Errorf("--dashboard-token: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--dashboard-addr %s: %w (pick another address, or \"\" to disable the dashboard)", addr, err)
	}
	return &dashboardServer{ln: ln, token: token}, nil
}

// describe is the dashboard's line in the host's banner: its URL, and with a token, that it
// asks for it; withToken adds the URL that logs in (`trellis up`, on the user's own terminal).
func (d *dashboardServer) describe(withToken bool) string {
	switch {
	case d.token == "":
		return d.URL()
	case withToken:
		return d.URL() + "   (token required; this link logs in: " + d.URL() + "/#token=" + url.QueryEscape(d.token) + ")"
	}
	return d.URL() + "   (token required: --dashboard-token)"
}

// URL is where people open the dashboard.
func (d *dashboardServer) URL() string {
	a := d.ln.Addr().(*net.TCPAddr)
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(a.Port))
}

// start connects to the host's NATS server and serves the dashboard until ctx ends; it takes the
// lattice, its JetStream domain and replicas, and the logger from the host's config. ready, when
// set, must also pass for the dashboard's readiness probe.
func (d *dashboardServer) start(ctx context.Context, conn lattice.NATSConfig, hc host.Config, ready func() error) error {
	latticeName, log := hc.Lattice, hc.Logger
	nc, err := connectLattice(conn, "trellis dashboard")
	if err != nil {
		return err
	}
	client, err := lattice.NewClient(nc, lattice.ClientConfig{Lattice: latticeName, Logger: log})
	if err != nil {
		nc.Close()
		return fmt.Errorf("dashboard: %w", err)
	}
	js, err := lattice.NewJetStream(nc, hc.JSDomain) // the apps store and the reconciler lease, for the Applications section
	if err != nil {
		nc.Close()
		return fmt.Errorf("dashboard: %w", err)
	}
	cfg := dashboard.DefaultConfig()
	cfg.Client, cfg.NC, cfg.JetStream, cfg.Logger = client, nc, js, log
	cfg.AppsReplicas = hc.JSReplicas
	cfg.ReadyCheck = ready
	cfg.Token = d.token
	dash, err := dashboard.New(cfg)
	if err != nil {
		nc.Close()
		return err
	}
	d.nc = nc
	d.done = make(chan error, 1)
	go func() { d.done <- dash.Serve(ctx, d.ln) }()
	return nil
}

// wait returns once the dashboard has stopped (its context ended), closing what it opened.
func (d *dashboardServer) wait() error {
	if d == nil {
		return nil
	}
	var err error
	if d.done != nil {
		err = <-d.done
	} else {
		err = d.ln.Close()
	}
	if d.nc != nil {
		d.nc.Close()
	}
	return err
}
