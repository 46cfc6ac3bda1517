package httpserver_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	contract "github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// metricValue scrapes url and returns the value of the series of name whose labels include
// labels; ok is false when there is none.
func metricValue(t *testing.T, url, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if got[k] != v {
				continue next
			}
		}
		if m.Counter != nil {
			return m.GetCounter().GetValue(), true
		}
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}

// TestMetricsOfTheProviderProcess: with metrics_addr in its configuration, the provider serves its
// requests by status code and its requests in flight per actor on /metrics, never by path.
func TestMetricsOfTheProviderProcess(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", latticetest.FreePort(t))
	r := newRigWith(t, func(hd *lattice.HostData) { hd.ConfigJSON = `{"metrics_addr": "` + addr + `"}` })
	metrics := "http://" + addr + "/metrics"
	actor, base := r.serve(t, nil, echo)
	for i := range 3 {
		resp, _ := get(t, fmt.Sprintf("%s/p%d", base, i))
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	v, ok := metricValue(t, metrics, "trellis_httpserver_requests_total", map[string]string{"component_id": actor, "code": "200"})
	require.True(t, ok)
	require.Equal(t, 3.0, v)

	// An actor that never answers holds a request in flight until the timeout (503).
	slow, slowBase := r.serve(t, map[string]string{"address": "127.0.0.1:0", "timeout_ms": "1500"},
		func(contract.HttpRequest) (contract.HttpResponse, string, bool) {
			return contract.HttpResponse{}, "", false
		})
	done := make(chan int, 1)
	go func() {
		resp, err := http.Get(slowBase + "/")
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	inFlight := map[string]string{"component_id": slow}
	require.Eventually(t, func() bool {
		v, _ := metricValue(t, metrics, "trellis_httpserver_requests_in_flight", inFlight)
		return v == 1
	},
		5*time.Second, 10*time.Millisecond)
	require.Equal(t, http.StatusServiceUnavailable, <-done)
	v, _ = metricValue(t, metrics, "trellis_httpserver_requests_in_flight", inFlight)
	require.Equal(t, 0.0, v)
	_, ok = metricValue(t, metrics, "go_goroutines", nil)
	require.True(t, ok, "the process's Go metrics are served too")
	for _, p := range []string{"/p0", "/p1"} {
		_, ok := metricValue(t, metrics, "trellis_httpserver_requests_total", map[string]string{"path": p})
		require.False(t, ok)
	}

}
