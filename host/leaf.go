package host

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// A leaf node (EmbeddedNATS.Remote) joins a shared lattice the way wash's `up` did: the embedded
// server connects out to the hub's leaf node listener and every subject crosses that connection,
// so the host's control, RPC and event traffic is the hub's lattice. The embedded server runs no
// JetStream: the lattice's data lives in the hub's JetStream, which the host reaches through the
// leaf connection ($JS.API, or $JS.<domain>.API with Config.JSDomain). A leaf JetStream of its
// own would answer $JS.API locally and keep this host's links and claims apart from the hub's.

// options checks the remote and returns it as nats-server's remote leaf options.
func (r *LeafRemote) options() (*server.RemoteLeafOpts, error) {
	u, err := url.Parse(r.URL)
	if err != nil {
		return nil, fmt.Errorf("leaf node remote URL: %w", err)
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
	default:
		return nil, fmt.Errorf("leaf node remote URL %s: scheme %q, want nats://, tls://, ws:// or wss:// (the hub's leaf node port, 7422 by default)", u.Redacted(), u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("leaf node remote URL %s: no host", u.Redacted())
	}
	ro := &server.RemoteLeafOpts{URLs: []*url.URL{u}, Credentials: r.CredsFile}
	if r.CredsFile != "" {
		if err := checkCreds(r.CredsFile); err != nil {
			return nil, fmt.Errorf("leaf node remote credentials %s: %w", r.CredsFile, err)
		}
	}
	if u.Scheme == "tls" || u.Scheme == "wss" || r.TLSCAFile != "" {
		ro.TLS = true
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
		if r.TLSCAFile != "" {
			ca, err := os.ReadFile(r.TLSCAFile)
			if err != nil {
				return nil, fmt.Errorf("leaf node remote TLS CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(ca) {
				return nil, fmt.Errorf("leaf node remote TLS CA %s: no PEM certificate in it", r.TLSCAFile)
			}
			tc.RootCAs = pool
		}
		ro.TLSConfig = tc
	}
	return ro, nil
}

// checkCreds reads a .creds file the way nats-server will, which at start only logs a bad one.
func checkCreds(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if _, err := jwt.ParseDecoratedJWT(b); err != nil {
		return fmt.Errorf("no user JWT: %w", err)
	}
	kp, err := jwt.ParseDecoratedNKey(b)
	if err != nil {
		return fmt.Errorf("no nkey seed: %w", err)
	}
	kp.Wipe()
	return nil
}

// waitLeaf waits until the leaf connection is up, failing with the last thing the server said
// about it.
func waitLeaf(ctx context.Context, ns *server.Server, rec *leafLog, remote string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for ns.NumLeafNodes() == 0 {
		select {
		case <-ctx.Done():
			last := rec.last()
			if last == "" {
				last = "no answer"
			}
			return fmt.Errorf("leaf node of %s: not connected (%s)", remote, last)
		case <-tick.C:
		}
	}
	return nil
}

// waitHubJetStream waits until the hub's JetStream API (of domain, when set) answers through the
// leaf connection, so that opening the lattice store does not meet "no responders" while the
// hub's interest is still on its way, and a hub without JetStream (or in another domain) is named
// as such.
func (h *Host) waitHubJetStream(ctx context.Context, nc *nats.Conn) error {
	api, what := "$JS.API.INFO", "JetStream"
	if d := h.cfg.JSDomain; d != "" {
		api, what = "$JS."+d+".API.INFO", fmt.Sprintf("JetStream of domain %q", d)
	}
	err := h.untilReady(ctx, "the hub's "+what, func() error {
		_, err := nc.Request(api, nil, 2*time.Second)
		return err
	})
	if err != nil {
		return fmt.Errorf("leaf node of %s: connected, but the hub's %s does not answer through it (is JetStream on at the hub? --js-domain must be the hub's domain when it has one): %w",
			redactURL(h.cfg.EmbeddedNATS.Remote.URL), what, err)
	}
	return nil
}

// leafLog is the embedded server's logger in leaf mode: what it says about leaf connections goes
// to the host's log, and the last of it explains a failed join.
type leafLog struct {
	log       zerolog.Logger
	mu        sync.Mutex
	line, err string // the last line, the last error or warning
}

func (l *leafLog) record(level zerolog.Level, format string, v []any) {
	msg := fmt.Sprintf(format, v...)
	low := strings.ToLower(msg)
	if !strings.Contains(low, "leafnode") && !strings.Contains(low, "remote") {
		return
	}
	l.mu.Lock()
	l.line = msg
	if level >= zerolog.WarnLevel {
		l.err = msg
	}
	l.mu.Unlock()
	l.log.WithLevel(level).Msg(msg)
}

func (l *leafLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != "" {
		return l.err
	}
	return l.line
}

func (l *leafLog) Noticef(format string, v ...any) { l.record(zerolog.InfoLevel, format, v) }
func (l *leafLog) Warnf(format string, v ...any)   { l.record(zerolog.WarnLevel, format, v) }
func (l *leafLog) Fatalf(format string, v ...any)  { l.record(zerolog.ErrorLevel, format, v) }
func (l *leafLog) Errorf(format string, v ...any)  { l.record(zerolog.WarnLevel, format, v) }
func (l *leafLog) Debugf(format string, v ...any)  { l.record(zerolog.DebugLevel, format, v) }
func (l *leafLog) Tracef(string, ...any)           {}

var _ server.Logger = (*leafLog)(nil)

// redactURL hides a password in a URL.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return s
}
