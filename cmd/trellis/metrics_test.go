package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	contract "github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// scrape reads url's Prometheus exposition into its families, by name.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// sample is the value of the series of family name whose labels include want; ok is false when
// there is none.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func requireSample(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string, want float64) {
	t.Helper()
	v, ok := sample(fams, name, labels)
	require.True(t, ok, "no series %s%v", name, labels)
	require.Equal(t, want, v, "%s%v", name, labels)
}

// TestMetricsAfterKnownTraffic runs a host counting into the metrics listener of a host command,
// sends echo successful, refused and failing invocations (through the built-in HTTP server and
// over NATS) and requests to 1,000 distinct paths, and reads the counts back from /metrics; the
// label sets stay those of the actor, never of a path.
func TestMetricsAfterKnownTraffic(t *testing.T) {
	l := hosttest.New(t)
	ms, err := listenMetrics(fmt.Sprintf("127.0.0.1:%d", latticetest.FreePort(t)))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ms.stop()) })
	base := strings.TrimSuffix(ms.URL(), "/metrics")
	status, _ := awaitHTTP(t, base+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, status, "ready before the host started")
	status, _, err = httpGet(base + "/livez")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)

	h := l.StartHost(func(c *host.Config) {
		c.Metrics = ms.registerer()
		c.Builtins = builtinProvidersWith(ms.httpMetrics())
	})
	ms.setReady(h.CheckReady)
	status, body, err := httpGet(base + "/readyz")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, body)

	echoID := l.StartActor(h, echoSigned(t, "echo", contract.ContractID).Path, 1)
	require.Equal(t, builtinKey, l.StartProvider(h, host.BuiltinHTTPServer, ""))
	port := latticetest.FreePort(t)
	l.PutLink(builtinLink(echoID, port))
	web := fmt.Sprintf("http://127.0.0.1:%d", port)
	status, body = awaitHTTP(t, web+"/")
	require.Equal(t, http.StatusOK, status, body)

	// Successful: 4 more through the built-in (in process), 3 signed invocations over NATS.
	for range 4 {
		status, _, err := httpGet(web + "/")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
	}
	good, err := contract.HttpRequest{Method: "GET", Path: "/"}.Encode()
	require.NoError(t, err)
	invoke := func(cluster *lattice.KeyPair, msg []byte) *lattice.InvocationResponse {
		t.Helper()
		origin := lattice.Entity{PublicKey: latticetest.Key(t, lattice.PrefixModule).PublicKey()}
		inv, err := lattice.NewInvocation(cluster, "test", origin, lattice.Entity{PublicKey: echoID}, contract.OpHandleRequest, msg)
		require.NoError(t, err)
		data, err := inv.Encode()
		require.NoError(t, err)
		reply, err := l.NC.Request(l.Ctl.Subjects().Actor(echoID), data, 5*time.Second)
		require.NoError(t, err)
		resp, err := lattice.DecodeInvocationResponse(reply.Data)
		require.NoError(t, err)
		return resp
	}
	for range 3 {
		require.Empty(t, invoke(l.Cluster, good).Error)
	}
	// Refused: signed by a cluster key the host does not trust (twice).
	stranger := latticetest.Key(t, lattice.PrefixCluster)
	for range 2 {
		require.Contains(t, invoke(stranger, good).Error, "not a cluster issuer")
	}
	// Failing: a trusted invocation whose request the actor cannot decode.
	require.NotEmpty(t, invoke(l.Cluster, []byte{0xc1}).Error)

	// 1,000 distinct paths, 8 at a time.
	paths := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range paths {
				status, _, err := httpGet(fmt.Sprintf("%s/path-%d/x?q=%d", web, i, i))
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("path %d: status %d", i, status)
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range 1000 {
		paths <- i
	}
	close(paths)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	fams := scrape(t, ms.URL())
	op := map[string]string{"component_id": echoID, "operation": contract.OpHandleRequest}
	// 5 + 4 + 3 + 1 failing + 1000 = 1,009 that ran, 2 refused under operation "".
	requireSample(t, fams, "wasmcloud_host_component_invocations_total", op, 1009)
	requireSample(t, fams, "wasmcloud_host_component_invocation_duration_seconds", op, 1009)
	requireSample(t, fams, "wasmcloud_host_component_invocations_total", map[string]string{"component_id": echoID, "operation": ""}, 2)
	requireSample(t, fams, "wasmcloud_host_component_invocation_errors_total",
		map[string]string{"component_id": echoID, "operation": "", "kind": host.InvocationRefused}, 2)
	requireSample(t, fams, "wasmcloud_host_component_invocation_errors_total",
		map[string]string{"component_id": echoID, "operation": contract.OpHandleRequest, "kind": host.InvocationFailed}, 1)
	_, timedOut := sample(fams, "wasmcloud_host_component_invocation_errors_total", map[string]string{"kind": host.InvocationTimeout})
	require.False(t, timedOut)
	requireSample(t, fams, "trellis_httpserver_requests_total", map[string]string{"component_id": echoID, "code": "200"}, 1005)
	requireSample(t, fams, "trellis_httpserver_requests_in_flight", map[string]string{"component_id": echoID}, 0)
	requireSample(t, fams, "wasmcloud_host_component_max_instances", map[string]string{"component_id": echoID}, 1)
	requireSample(t, fams, "wasmcloud_host_component_active_instances", map[string]string{"component_id": echoID}, 0)
	requireSample(t, fams, "wasmcloud_host_component_idle_instances", map[string]string{"component_id": echoID}, 1)
	requireSample(t, fams, "trellis_host_provider_state",
		map[string]string{"provider": builtinKey, "contract": contract.ContractID, "state": host.ProviderRunning}, 1)
	requireSample(t, fams, "trellis_host_provider_restarts_total", map[string]string{"provider": builtinKey}, 0)
	requireSample(t, fams, "trellis_host_nats_connected", nil, 1)
	requireSample(t, fams, "trellis_host_actors", nil, 1)
	requireSample(t, fams, "trellis_lattice_links", map[string]string{"contract": contract.ContractID, "applied": "true"}, 1)
	requireSample(t, fams, "trellis_host_control_requests_total", map[string]string{"kind": "cmd_la", "result": "accepted"}, 1)
	requireSample(t, fams, "trellis_host_control_requests_total", map[string]string{"kind": "link_put", "result": "accepted"}, 1)

	// Bounded: the project's families hold a handful of series, none labelled with a path.
	for name, f := range fams {
		if !strings.HasPrefix(name, "wasmcloud_") && !strings.HasPrefix(name, "trellis_") {
			continue
		}
		require.LessOrEqual(t, len(f.GetMetric()), 12, "%s has %d series", name, len(f.GetMetric()))
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				require.NotContains(t, lp.GetValue(), "path-", "%s label %s", name, lp.GetName())
			}
		}
	}
}

// TestMetricsAddrFlag runs `trellis host --metrics-addr` (from TRELLIS_METRICS_ADDR) without a
// dashboard: the probes and /metrics answer, with the host's and the reconciler's metrics; a
// taken address fails the start, naming the flag.
func TestMetricsAddrFlag(t *testing.T) {
	useTempKeys(t)
	l := hosttest.New(t)
	addr := fmt.Sprintf("127.0.0.1:%d", latticetest.FreePort(t))
	t.Setenv("TRELLIS_METRICS_ADDR", addr)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut latticetest.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"host", "--nats-url", l.NS.ClientURL(), "--cluster-seed", l.Seed, "--dashboard-addr", "",
			"--data-dir", filepath.Join(t.TempDir(), "data"), "--log-level", "warn"}, &out, &errOut)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			require.Equal(t, 0, code, errOut.String())
		case <-time.After(time.Minute):
			t.Error("trellis host did not return within 1m of cancel")
		}
	})
	require.Eventually(t, func() bool {
		status, _, err := httpGet("http://" + addr + "/readyz")
		return err == nil && status == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond, "readyz: %s %s", out.String(), errOut.String())
	status, _, err := httpGet("http://" + addr + "/livez")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "Metrics:   http://"+addr+"/metrics") }, 5*time.Second, 10*time.Millisecond)
	fams := scrape(t, "http://"+addr+"/metrics")
	requireSample(t, fams, "trellis_host_nats_connected", nil, 1)
	require.Contains(t, fams, "go_goroutines")
	// The only host leads the reconciler, which counts the apps (none) by state.
	require.Eventually(t, func() bool {
		fams := scrape(t, "http://"+addr+"/metrics")
		leader, _ := sample(fams, "trellis_reconciler_leader", nil)
		_, apps := sample(fams, "trellis_apps", map[string]string{"state": "deployed"})
		return leader == 1 && apps
	}, 30*time.Second, 50*time.Millisecond, "the reconciler's metrics")

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	code, _, stderr := runCLI(t, context.Background(), "host", "--metrics-addr", taken.Addr().String(), "--data-dir", t.TempDir())
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "--metrics-addr "+taken.Addr().String())
}
