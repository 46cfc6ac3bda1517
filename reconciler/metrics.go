package reconciler

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trellis-lattice/trellis/lattice/app"
)

// The reconciler's Prometheus metrics, registered on Config.Metrics when it is set. Only the
// leader knows the apps' states: a reconciler that does not hold the lease reports none.
var (
	descApps = prometheus.NewDesc("trellis_apps",
		"Applications by state (deployed, reconciling, failed, undeployed) as of the leader's last pass.", []string{"state"}, nil)
	descLeader = prometheus.NewDesc("trellis_reconciler_leader",
		"1 while this host's reconciler holds the lease (it alone acts on the lattice).", nil, nil)
	descPasses = prometheus.NewDesc("trellis_reconciler_passes_total",
		"Passes this host's reconciler made as the leader.", nil, nil)
)

var appStates = []app.State{app.StateDeployed, app.StateReconciling, app.StateFailed, app.StateUndeployed}

// countStates counts the statuses of a pass by state.
func countStates(out []app.Status) map[app.State]int {
	n := map[app.State]int{}
	for _, st := range out {
		n[st.State]++
	}
	return n
}

// registerMetrics registers the reconciler's collector on reg (nil: none).
func (r *Reconciler) registerMetrics(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	if err := reg.Register(collector{r}); err != nil {
		return fmt.Errorf("reconciler metrics: %w", err)
	}
	return nil
}

type collector struct{ r *Reconciler }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descApps
	ch <- descLeader
	ch <- descPasses
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	r := c.r
	r.mu.Lock()
	leading, passes, states := r.leading, r.passes, r.states
	r.mu.Unlock()
	leader := 0.0
	if leading {
		leader = 1
	}
	ch <- prometheus.MustNewConstMetric(descLeader, prometheus.GaugeValue, leader)
	ch <- prometheus.MustNewConstMetric(descPasses, prometheus.CounterValue, float64(passes))
	if !leading || states == nil {
		return
	}
	for _, s := range appStates {
		ch <- prometheus.MustNewConstMetric(descApps, prometheus.GaugeValue, float64(states[s]), string(s))
	}
}
