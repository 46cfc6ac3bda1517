package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/trellis-lattice/trellis/providers/httpserver"
)

// metricsServer serves a host command's /metrics, /livez and /readyz on --metrics-addr, whether
// the dashboard runs or not (docs/observability.md). It is bound before the host starts, so a
// taken port fails at once, and answers /livez from then on.
type metricsServer struct {
	reg   *prometheus.Registry
	http  *httpserver.Metrics // the built-in HTTP server's, on reg
	ln    net.Listener
	srv   *http.Server
	done  chan error
	ready atomic.Pointer[func() error] // nil until the host has started
}

// newMetricsRegistry is the one registry of a host process: the Go runtime's and the process's
// metrics, then what the host and its built-ins register.
func newMetricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// listenMetrics makes the registry and binds addr; an empty addr disables metrics (nil, nil).
func listenMetrics(addr string) (*metricsServer, error) {
	if addr == "" {
		return nil, nil
	}
	reg := newMetricsRegistry()
	hm, err := httpserver.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %s: %w (pick another address, or \"\" to disable metrics)", addr, err)
	}
	m := &metricsServer{reg: reg, http: hm, ln: ln, done: make(chan error, 1)}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		writeProbe(w, http.StatusOK, map[string]any{"live": true})
	})
	mux.HandleFunc("GET /readyz", m.readyz)
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		err := m.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		m.done <- err
	}()
	return m, nil
}

// registerer is where the host registers its metrics; nil without metrics.
func (m *metricsServer) registerer() prometheus.Registerer {
	if m == nil {
		return nil
	}
	return m.reg
}

// httpMetrics are the built-in HTTP server's metrics; nil without metrics.
func (m *metricsServer) httpMetrics() *httpserver.Metrics {
	if m == nil {
		return nil
	}
	return m.http
}

// setReady makes /readyz answer by check once the host has started.
func (m *metricsServer) setReady(check func() error) {
	if m != nil {
		m.ready.Store(&check)
	}
}

// readyz answers 200 once the host serves the lattice, NATS is connected and the host runs its
// share of the deployed apps; else 503 with the reason (as the dashboard's /api/readyz does).
func (m *metricsServer) readyz(w http.ResponseWriter, _ *http.Request) {
	check := m.ready.Load()
	if check == nil {
		writeProbe(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reason": "host not started yet"})
		return
	}
	if err := (*check)(); err != nil {
		writeProbe(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reason": err.Error()})
		return
	}
	writeProbe(w, http.StatusOK, map[string]any{"ready": true})
}

func writeProbe(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// URL is the address /metrics is served on, for the host's banner.
func (m *metricsServer) URL() string {
	a := m.ln.Addr().(*net.TCPAddr)
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(a.Port)) + "/metrics"
}

// stop closes the listener, letting requests in progress finish for a few seconds.
func (m *metricsServer) stop() error {
	if m == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.srv.Shutdown(ctx); err != nil {
		_ = m.srv.Close()
	}
	return <-m.done
}
