package httpserver

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the HTTP server's Prometheus metrics, one set per registry however many providers
// count into it (a host's built-in server is made anew on each start). Their labels are the
// actor id and the HTTP status code: never a path.
type Metrics struct {
	inFlight *prometheus.GaugeVec   // component_id
	requests *prometheus.CounterVec // component_id, code
}

// NewMetrics registers the HTTP server's metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "trellis_httpserver_requests_in_flight",
			Help: "HTTP requests an actor's listener is serving now (what an autoscaler scales on).",
		}, []string{"component_id"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trellis_httpserver_requests_total",
			Help: "HTTP requests an actor's listener answered, by status code.",
		}, []string{"component_id", "code"}),
	}
	for _, c := range []prometheus.Collector{m.inFlight, m.requests} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("httpserver metrics: %w", err)
		}
	}
	return m, nil
}

// SetMetrics makes the provider count its requests into m (nil: not at all); call it before the
// first link.
func (p *Provider) SetMetrics(m *Metrics) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.metrics = m
}

// instrument counts the requests of actorID's listener around next.
func (m *Metrics) instrument(actorID string, next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	counter := m.requests.MustCurryWith(prometheus.Labels{"component_id": actorID})
	return promhttp.InstrumentHandlerInFlight(m.inFlight.WithLabelValues(actorID),
		promhttp.InstrumentHandlerCounter(counter, next))
}
