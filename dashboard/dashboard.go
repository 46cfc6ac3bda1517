package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
)

// Config configures a Dashboard. Zero durations and sizes take their defaults (DefaultConfig).
type Config struct {
	// Client drives the lattice; required.
	Client *lattice.Client
	// NC is the connection Client uses. Optional: when set, readiness and the page's status
	// report whether it is connected; without it, whether the latest refresh got through.
	NC *nats.Conn
	// JetStream reads and writes the lattice's declarative apps (lattice/app: the apps store and
	// the reconciler lease). Optional: without it the Applications section says apps are not
	// available.
	JetStream jetstream.JetStream
	// AppsReplicas are the apps bucket's replicas should the dashboard be the first to open it
	// (hosts normally are). Default 1.
	AppsReplicas int
	// ReadyCheck, when set, must also pass for /api/readyz to answer 200: a host command uses it
	// so that a host is ready only once it runs its share of the deployed apps. Its error is the
	// reason given.
	ReadyCheck func() error
	// Logger receives the dashboard's logs; disabled by default.
	Logger zerolog.Logger

	// HostTimeout marks a host stale when nothing was heard from it for this long (hosts
	// heartbeat every 30s). Default 70s: two missed heartbeats and some slack.
	HostTimeout time.Duration
	// HostRemoveAfter removes a host nothing was heard from for this long. Default 3m.
	HostRemoveAfter time.Duration
	// RefreshInterval is how often the whole lattice is queried again, so the view converges
	// after missed events. Default 30s.
	RefreshInterval time.Duration
	// CommandTimeout bounds how long a command waits for the event that tells how it ended; a
	// command still running then is answered 202 Accepted. Default 30s.
	CommandTimeout time.Duration
	// AuctionTimeout is how long an auction collects hosts' answers when a start names no host.
	// Default 1s.
	AuctionTimeout time.Duration
	// EventLogSize is how many recent events are kept for the page. Default 200.
	EventLogSize int
	// AllowedHosts are the host names (of the Host header) the dashboard answers besides IP
	// addresses and localhost, e.g. the name of an Ingress; "*" allows any. Requests for other
	// names are refused, so a web page cannot reach the dashboard by DNS rebinding.
	AllowedHosts []string
	// Token, when set, is required on every request but the page's own files, the probes
	// (/api/livez, /api/readyz) and the session endpoints: as Authorization: Bearer <token>, or
	// as the session cookie POST /api/login sets (auth.go). At least MinTokenLength characters.
	// Empty: no authentication.
	Token string
}

// DefaultConfig returns the defaults; set Client (and NC) before use.
func DefaultConfig() Config {
	return Config{
		Logger:          zerolog.Nop(),
		HostTimeout:     70 * time.Second,
		HostRemoveAfter: 3 * time.Minute,
		RefreshInterval: 30 * time.Second,
		CommandTimeout:  30 * time.Second,
		AuctionTimeout:  time.Second,
		EventLogSize:    200,
		AppsReplicas:    1,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.HostTimeout == 0 {
		c.HostTimeout = d.HostTimeout
	}
	if c.HostRemoveAfter == 0 {
		c.HostRemoveAfter = max(d.HostRemoveAfter, c.HostTimeout)
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = d.RefreshInterval
	}
	if c.CommandTimeout == 0 {
		c.CommandTimeout = d.CommandTimeout
	}
	if c.AuctionTimeout == 0 {
		c.AuctionTimeout = d.AuctionTimeout
	}
	if c.EventLogSize == 0 {
		c.EventLogSize = d.EventLogSize
	}
	if c.AppsReplicas == 0 {
		c.AppsReplicas = d.AppsReplicas
	}
	return c
}

// Validate reports what is wrong with the configuration, after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Client == nil {
		errs = append(errs, errors.New("dashboard: client: required"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"host timeout", c.HostTimeout}, {"host remove after", c.HostRemoveAfter},
		{"refresh interval", c.RefreshInterval}, {"command timeout", c.CommandTimeout},
		{"auction timeout", c.AuctionTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("dashboard: %s %s: must be positive", d.name, d.v))
		}
	}
	if c.HostRemoveAfter < c.HostTimeout {
		errs = append(errs, fmt.Errorf("dashboard: host remove after %s: must not be shorter than host timeout %s", c.HostRemoveAfter, c.HostTimeout))
	}
	if c.EventLogSize < 0 {
		errs = append(errs, fmt.Errorf("dashboard: event log size %d: must be positive", c.EventLogSize))
	}
	if err := CheckToken(c.Token); err != nil {
		errs = append(errs, fmt.Errorf("dashboard: token: %w", err))
	}
	if c.AppsReplicas < 0 {
		errs = append(errs, fmt.Errorf("dashboard: apps replicas %d: must be positive", c.AppsReplicas))
	}
	return errors.Join(errs...)
}

// Dashboard serves the lattice dashboard. Handler serves the page, the API and the websocket;
// Run keeps the view of the lattice current. Create it with New.
type Dashboard struct {
	cfg    Config
	client *lattice.Client
	log    zerolog.Logger

	state   *state
	events  *eventLog
	hub     *hub
	refresh *refresher
	handler http.Handler
	// auth checks the token; nil when none is configured.
	auth *authenticator
	// apps is the apps store once followApps opened it.
	apps atomic.Pointer[app.Store]

	// connected is the connection state last put into the view (see checkConnection).
	connected atomic.Bool
	running   atomic.Bool
}

// New returns a dashboard of the lattice cfg.Client drives.
func New(cfg Config) (*Dashboard, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With().Str("component", "dashboard").Logger()
	d := &Dashboard{
		cfg:    cfg,
		client: cfg.Client,
		log:    log,
		state:  newState(cfg.Client.Lattice(), cfg.HostTimeout, cfg.HostRemoveAfter),
		events: newEventLog(cfg.EventLogSize),
		hub:    newHub(log),
		auth:   newAuthenticator(cfg.Token),
	}
	d.state.apps.enabled = cfg.JetStream != nil
	d.refresh = newRefresher(d)
	d.handler = d.routes()
	d.connected.Store(cfg.NC != nil && cfg.NC.IsConnected())
	return d, nil
}

// Handler returns the dashboard's HTTP handler: the page at /, the JSON API under /api/ and the
// websocket at /ws. It serves before Run is called, but the view stays empty until Run runs.
func (d *Dashboard) Handler() http.Handler { return d.handler }

// Ready reports whether the dashboard has a view of the lattice: the first refresh is done and
// NATS is connected. /api/readyz answers the same.
func (d *Dashboard) Ready() bool {
	ok, _ := d.readiness()
	return ok
}

func (d *Dashboard) readiness() (bool, string) {
	if !d.isConnected() {
		return false, "not connected to NATS"
	}
	if !d.state.refreshed() {
		return false, "first lattice refresh not done yet"
	}
	return true, ""
}

// isConnected is NC's state when the dashboard has it, else whether the latest refresh got
// through.
func (d *Dashboard) isConnected() bool {
	if d.cfg.NC != nil {
		return d.cfg.NC.IsConnected()
	}
	return d.state.lastRefreshOK()
}

// Run follows the lattice's events and keeps the view current until ctx ends. It returns an
// error only when it cannot subscribe to the events; run it once.
func (d *Dashboard) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("dashboard: Run called twice")
	}
	unsubscribe, err := d.client.Subscribe(d.onEvent)
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	defer func() {
		if err := unsubscribe(); err != nil {
			d.log.Debug().Err(err).Msg("unsubscribe from events")
		}
	}()
	defer d.hub.closeAll()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); d.refresh.run(ctx) }()
	go func() { defer wg.Done(); d.broadcastViews(ctx) }()
	if d.cfg.JetStream != nil {
		wg.Add(2)
		go func() { defer wg.Done(); d.watchApps(ctx) }()
		go func() { defer wg.Done(); d.followLease(ctx) }()
	}
	wg.Wait()
	return nil
}

// Serve runs the dashboard (Run, so do not call Run as well) and serves Handler on ln until ctx
// ends, then shuts the server down and closes ln. It returns the first error of either.
func (d *Dashboard) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := &http.Server{
		Handler:           d.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	runErr := make(chan error, 1)
	go func() {
		err := d.Run(ctx)
		cancel()
		runErr <- err
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		cancel()
	}
	shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	if serr := srv.Shutdown(shutdownCtx); serr != nil && err == nil {
		err = fmt.Errorf("dashboard: shut down http server: %w", serr)
	}
	if rerr := <-runErr; rerr != nil && err == nil {
		err = rerr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// broadcastViews sends the view to every websocket client when it changed, at most every
// viewInterval, and checks the connection and hosts' heartbeats every second.
func (d *Dashboard) broadcastViews(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var sent uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.state.changed:
		case <-tick.C:
			d.checkConnection()
			d.state.sweep()
		}
		if v := d.state.version(); v != sent {
			sent = v
			d.hub.broadcast(viewMessage(d.view()))
			// Coalesce bursts of changes (an actor scaled to 50 instances).
			select {
			case <-ctx.Done():
				return
			case <-time.After(viewInterval):
			}
		}
	}
}

// viewInterval is the shortest time between two view updates sent to the page.
const viewInterval = 50 * time.Millisecond

// checkConnection marks the view changed when the connection state changed, and asks the
// lattice again after a reconnect: events may have been missed meanwhile.
func (d *Dashboard) checkConnection() {
	c := d.isConnected()
	if was := d.connected.Swap(c); was != c {
		d.state.touch()
		if c && d.cfg.NC != nil {
			d.refresh.schedule(followUp{hosts: true})
		}
	}
}

// view is the current view with the connection state filled in.
func (d *Dashboard) view() View {
	v := d.state.view()
	v.Connected = d.isConnected()
	return v
}
