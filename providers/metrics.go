package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// MetricsAddrKey is the key of the provider's configuration (HostData config_json, the --config
// of `ctl start provider`) whose value is the address a provider process serves its Prometheus
// metrics on, on /metrics: {"metrics_addr": ":9091"}. Without it the provider serves none and
// Host.Metrics is nil. Each provider process of a pod needs its own port.
const MetricsAddrKey = "metrics_addr"

// metricsAddr reads MetricsAddrKey from a provider's configuration: "" when the configuration is
// empty, is not a JSON object, or does not set it (those are the provider's to judge); an error
// when it is set to something that is not a non-empty string.
func metricsAddr(configJSON string) (string, error) {
	if strings.TrimSpace(configJSON) == "" {
		return "", nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(configJSON), &obj); err != nil {
		return "", nil
	}
	raw, ok := obj[MetricsAddrKey]
	if !ok {
		return "", nil
	}
	var addr string
	if err := json.Unmarshal(raw, &addr); err != nil || strings.TrimSpace(addr) == "" {
		return "", fmt.Errorf("config %s: %s is not an address such as \":9091\"", MetricsAddrKey, raw)
	}
	return strings.TrimSpace(addr), nil
}

// metricsServer serves a provider process's registry on its metrics_addr.
type metricsServer struct {
	reg  *prometheus.Registry
	ln   net.Listener
	srv  *http.Server
	done chan error
}

// serveMetrics starts the metrics listener configConfig asks for; nil when it asks for none.
func serveMetrics(configJSON string, log zerolog.Logger) (*metricsServer, error) {
	addr, err := metricsAddr(configJSON)
	if err != nil || addr == "" {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("config %s %s: %w", MetricsAddrKey, addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	m := &metricsServer{reg: reg, ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, done: make(chan error, 1)}
	go func() {
		err := m.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		m.done <- err
	}()
	log.Info().Str("address", ln.Addr().String()).Msg("serving metrics")
	return m, nil
}

// registry is nil without a listener.
func (m *metricsServer) registry() prometheus.Registerer {
	if m == nil {
		return nil
	}
	return m.reg
}

func (m *metricsServer) stop() {
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := m.srv.Shutdown(ctx); err != nil {
		_ = m.srv.Close()
	}
	<-m.done
}

// Metrics is where the provider registers its Prometheus metrics, served on the address of its
// configuration's metrics_addr (MetricsAddrKey); nil when none is configured: count nothing then.
func (h *Host) Metrics() prometheus.Registerer { return h.metrics.registry() }
