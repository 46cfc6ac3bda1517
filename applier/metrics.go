package applier

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the applier's Prometheus metrics. The applier is a provider process: it registers
// them on the registry the provider SDK serves on the address of its configuration's
// metrics_addr (providers.MetricsAddrKey); without one it counts nothing. A nil *metrics counts
// nothing.
type metrics struct {
	reconciles prometheus.Counter
	errors     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		reconciles: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "trellis_applier_reconciles_total",
			Help: "Reconciliations of the Services of HTTP-server links, successful or not.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "trellis_applier_reconcile_errors_total",
			Help: "Reconciliations of the Services of HTTP-server links that failed (retried with backoff).",
		}),
	}
	for _, c := range []prometheus.Collector{m.reconciles, m.errors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("applier metrics: %w", err)
		}
	}
	return m, nil
}

// reconciled counts one reconciliation that ended with err.
func (m *metrics) reconciled(err error) {
	if m == nil {
		return
	}
	m.reconciles.Inc()
	if err != nil {
		m.errors.Inc()
	}
}
