package host

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trellis-lattice/trellis/lattice"
)

// The host's Prometheus metrics (docs/observability.md lists them). They are registered on
// Config.Metrics when it is set; without it the host counts nothing. Names follow wasmCloud 1.x
// where it has one (wasmcloud_host_component_…), the rest are trellis_….
//
// Labels are bounded: actor ids (the actors this host ran), operations (at most
// maxOperationsPerActor per actor, the rest counted as "other"), the kinds of a fixed list, and
// provider keys and link names of the providers it runs. Never a path, an invocation id or an
// error text.

// Result kinds of an invocation, the kind label of wasmcloud_host_component_invocation_errors_total.
const (
	// InvocationRefused: refused before the actor ran (forged, replayed, not for this actor, a
	// capability the actor lacks, over a limit, no link for a built-in's call).
	InvocationRefused = "refused"
	// InvocationTimeout: the actor did not answer within the invocation's timeout.
	InvocationTimeout = "timeout"
	// InvocationFailed: the actor ran and failed (a guest error, a trap, no instance).
	InvocationFailed = "failed"
)

// maxOperationsPerActor bounds the operation label per actor: operations past it are "other".
const maxOperationsPerActor = 32

// otherOperation is the operation label of the operations past maxOperationsPerActor.
const otherOperation = "other"

// invocationBuckets are the duration histogram's buckets, in seconds: 0.5 ms to about 30 s.
var invocationBuckets = prometheus.ExponentialBuckets(0.0005, 2.5, 13)

// metrics are the host's counters; a nil *metrics counts nothing.
type metrics struct {
	invocations *prometheus.CounterVec   // component_id, operation
	errors      *prometheus.CounterVec   // component_id, operation, kind
	duration    *prometheus.HistogramVec // component_id, operation
	control     *prometheus.CounterVec   // kind, result

	mu  sync.Mutex
	ops map[string]map[string]bool // per actor, the operations given their own label
}

// newMetrics registers the host's metrics on reg; a nil reg gives nil metrics.
func newMetrics(h *Host, reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wasmcloud_host_component_invocations_total",
			Help: "Invocations of the actors of this host, answered or refused (refused ones under operation \"\").",
		}, []string{"component_id", "operation"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wasmcloud_host_component_invocation_errors_total",
			Help: "Invocations of the actors of this host answered with an error, by kind: refused, timeout or failed.",
		}, []string{"component_id", "operation", "kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wasmcloud_host_component_invocation_duration_seconds",
			Help:    "Time from an accepted invocation to the actor's answer, waiting for a free instance included.",
			Buckets: invocationBuckets,
		}, []string{"component_id", "operation"}),
		control: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trellis_host_control_requests_total",
			Help: "Control interface requests this host answered, by kind and result (accepted, refused, ok).",
		}, []string{"kind", "result"}),
		ops: map[string]map[string]bool{},
	}
	for _, c := range []prometheus.Collector{m.invocations, m.errors, m.duration, m.control, hostCollector{h}} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("host metrics: %w", err)
		}
	}
	return m, nil
}

// operation is the label of op for actor: op itself for the first maxOperationsPerActor
// operations the actor was invoked with, then "other".
func (m *metrics) operation(actor, op string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := m.ops[actor]
	if seen == nil {
		seen = map[string]bool{}
		m.ops[actor] = seen
	}
	if seen[op] {
		return op
	}
	if len(seen) >= maxOperationsPerActor {
		return otherOperation
	}
	seen[op] = true
	return op
}

// invocation is the record of one invocation of a local actor, from receipt to answer. ran is set
// once the actor was asked to run it (the checks passed).
type invocation struct {
	m     *metrics
	actor string
	op    string
	ran   bool
	start time.Time
	err   error
}

// begin starts the record of an invocation of actor; nil without metrics.
func (m *metrics) begin(actor string) *invocation {
	if m == nil {
		return nil
	}
	return &invocation{m: m, actor: actor}
}

// running notes that the checks passed and the actor runs op.
func (r *invocation) running(op string) {
	if r == nil {
		return
	}
	r.ran, r.op, r.start = true, op, time.Now()
}

// done notes the actor's answer (err nil for a success).
func (r *invocation) done(err error) {
	if r == nil {
		return
	}
	r.err = err
}

// end counts the invocation: a refusal when the actor was never asked to run it.
func (r *invocation) end() {
	if r == nil {
		return
	}
	m := r.m
	if !r.ran {
		m.invocations.WithLabelValues(r.actor, "").Inc()
		m.errors.WithLabelValues(r.actor, "", InvocationRefused).Inc()
		return
	}
	op := m.operation(r.actor, r.op)
	m.invocations.WithLabelValues(r.actor, op).Inc()
	m.duration.WithLabelValues(r.actor, op).Observe(time.Since(r.start).Seconds())
	switch {
	case r.err == nil:
	case errors.Is(r.err, context.DeadlineExceeded):
		m.errors.WithLabelValues(r.actor, op, InvocationTimeout).Inc()
	default:
		m.errors.WithLabelValues(r.actor, op, InvocationFailed).Inc()
	}
}

// controlKinds are the kind labels of the control subjects (PROTOCOL.md §4), by the subject's
// tokens after wasmbus.ctl.{L}, with the host id left out.
var controlKinds = map[string]string{
	"ping.hosts":       "ping_hosts",
	"get.inv":          "get_inventory",
	"get.claims":       "get_claims",
	"get.links":        "get_links",
	"linkdefs.put":     "link_put",
	"linkdefs.del":     "link_del",
	"auction.actor":    "auction_actor",
	"auction.provider": "auction_provider",
	"registries.put":   "registries_put",
}

// controlCommands are the commands of cmd.{H}.* that get their own kind label.
var controlCommands = map[string]bool{
	lattice.CmdLaunchActor: true, lattice.CmdStopActor: true, lattice.CmdScaleActor: true,
	lattice.CmdUpdateActor: true, lattice.CmdLaunchProvider: true, lattice.CmdStopProvider: true,
	lattice.CmdStopHost: true,
}

// controlKind is the kind label of a control subject of this host's lattice; "unknown" for what
// is not one of the subjects it serves.
func (h *Host) controlKind(subject string) string {
	rest, ok := strings.CutPrefix(subject, h.subj.Ctl+"."+h.subj.Lattice+".")
	if !ok {
		return "unknown"
	}
	parts := strings.Split(rest, ".")
	switch {
	case len(parts) == 3 && parts[0] == "cmd":
		if controlCommands[parts[2]] {
			return "cmd_" + parts[2]
		}
		return "cmd_unknown"
	case len(parts) == 3 && parts[0] == "get" && parts[2] == "inv":
		return controlKinds["get.inv"]
	}
	if k, ok := controlKinds[rest]; ok {
		return k
	}
	return "unknown"
}

// countControl counts the answer v to the control request on subject.
func (h *Host) countControl(subject string, v any) {
	m := h.metrics
	if m == nil {
		return
	}
	result := "ok"
	if ack, ok := v.(lattice.Ack); ok {
		result = "accepted"
		if !ack.Accepted {
			result = "refused"
		}
	}
	m.control.WithLabelValues(h.controlKind(subject), result).Inc()
}

// CheckReady is nil once the host serves the lattice and its NATS connection is up, else an error
// saying why not: what a readiness probe asks.
func (h *Host) CheckReady() error {
	select {
	case <-h.ready:
	default:
		return errors.New("host not started yet (connecting to NATS and the lattice's JetStream bucket)")
	}
	if st := h.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("host NATS connection is %s", strings.ToLower(st.String()))
	}
	return nil
}

// Descriptions of the metrics the host reads when it is scraped.
var (
	descActive = prometheus.NewDesc("wasmcloud_host_component_active_instances",
		"Instances of an actor running an invocation now.", []string{"component_id"}, nil)
	descIdle = prometheus.NewDesc("wasmcloud_host_component_idle_instances",
		"Instances of an actor made and waiting for an invocation.", []string{"component_id"}, nil)
	descMax = prometheus.NewDesc("wasmcloud_host_component_max_instances",
		"Most live wasm instances of an actor this host may run at once (its max instances; by default its count).", []string{"component_id"}, nil)
	descProviderState = prometheus.NewDesc("trellis_host_provider_state",
		"1 for the state a provider of this host is in (starting, running, restarting, stopping), 0 for the others.",
		[]string{"provider", "link_name", "contract", "state"}, nil)
	descProviderRestarts = prometheus.NewDesc("trellis_host_provider_restarts_total",
		"Times a provider process of this host was restarted after it died (since it was started).",
		[]string{"provider", "link_name", "contract"}, nil)
	descProviderHealthy = prometheus.NewDesc("trellis_host_provider_healthy",
		"1 when a provider's last health check passed, 0 when it failed or none was made yet.",
		[]string{"provider", "link_name", "contract"}, nil)
	descNATSConnected = prometheus.NewDesc("trellis_host_nats_connected",
		"1 while the host's NATS connection is up.", nil, nil)
	descNATSReconnects = prometheus.NewDesc("trellis_host_nats_reconnects_total",
		"Times the host's NATS connection reconnected.", nil, nil)
	descLinks = prometheus.NewDesc("trellis_lattice_links",
		"Link definitions in the lattice as this host sees them, by contract; applied=false for those it rejected.",
		[]string{"contract", "applied"}, nil)
	descActors = prometheus.NewDesc("trellis_host_actors",
		"Actors running on this host.", nil, nil)
	descProviders = prometheus.NewDesc("trellis_host_providers",
		"Providers running on this host (processes and built-ins).", nil, nil)
)

var providerStates = []string{ProviderStarting, ProviderRunning, ProviderRestarting, ProviderStopping}

// maxLinkContracts bounds the contract label of trellis_lattice_links; the rest are "other".
const maxLinkContracts = 32

// hostCollector reads the host's tables when it is scraped.
type hostCollector struct{ h *Host }

func (c hostCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descActive, descIdle, descMax, descProviderState, descProviderRestarts,
		descProviderHealthy, descNATSConnected, descNATSReconnects, descLinks, descActors, descProviders} {
		ch <- d
	}
}

func (c hostCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.h
	actors := h.actors.all()
	ch <- prometheus.MustNewConstMetric(descActors, prometheus.GaugeValue, float64(len(actors)))
	for _, a := range actors {
		inUse, idle, most := a.instanceStats()
		ch <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, float64(inUse), a.id)
		ch <- prometheus.MustNewConstMetric(descIdle, prometheus.GaugeValue, float64(idle), a.id)
		ch <- prometheus.MustNewConstMetric(descMax, prometheus.GaugeValue, float64(most), a.id)
	}
	provs := h.providerInventory()
	ch <- prometheus.MustNewConstMetric(descProviders, prometheus.GaugeValue, float64(len(provs)))
	for _, p := range provs {
		for _, s := range providerStates {
			v := 0.0
			if p.State == s {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descProviderState, prometheus.GaugeValue, v, p.ID, p.LinkName, p.ContractID, s)
		}
		ch <- prometheus.MustNewConstMetric(descProviderRestarts, prometheus.CounterValue, float64(p.Restarts), p.ID, p.LinkName, p.ContractID)
		healthy := 0.0
		if p.Health == "healthy" {
			healthy = 1
		}
		ch <- prometheus.MustNewConstMetric(descProviderHealthy, prometheus.GaugeValue, healthy, p.ID, p.LinkName, p.ContractID)
	}
	type linkCount struct {
		contract string
		applied  bool
	}
	counts := map[linkCount]int{}
	contracts := map[string]bool{}
	for _, l := range h.links.links() {
		k := linkCount{l.ContractID, !strings.HasPrefix(l.Status, "rejected")}
		if !contracts[k.contract] && len(contracts) >= maxLinkContracts {
			k.contract = otherOperation
		}
		contracts[k.contract] = true
		counts[k]++
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(descLinks, prometheus.GaugeValue, float64(n), k.contract, fmt.Sprint(k.applied))
	}
	select {
	case <-h.ready: // h.nc is set
	default:
		return
	}
	if nc := h.nc; nc != nil {
		up := 0.0
		if nc.Status() == nats.CONNECTED {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descNATSConnected, prometheus.GaugeValue, up)
		ch <- prometheus.MustNewConstMetric(descNATSReconnects, prometheus.CounterValue, float64(nc.Stats().Reconnects))
	}
}
