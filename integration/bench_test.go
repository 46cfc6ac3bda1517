package integration_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// Load settings of the HTTP benchmark (docs/benchmarks.md).
const (
	benchConns    = 32
	benchDuration = 5 * time.Second
	benchWarmup   = time.Second
	benchScale    = 4 // echo instances
)

// Environment of BenchmarkHTTPEcho (read by the benchmark only, never by Trellis code).
const (
	// envCPUProfileDir: when set, a CPU profile of the test process is written for each row's
	// timed part to DIR/ROW.pprof.
	envCPUProfileDir = "TRELLIS_BENCH_CPUPROFILE_DIR"
	// envInproc=1 adds the wire-inproc row: the httpserver provider inside the test process, so
	// that one CPU profile covers provider, host and NATS.
	envInproc = "TRELLIS_BENCH_INPROC"
)

// A benchRow is one server answering echoBody on target, measured by load; skip says why it is
// not measured in this run ("" when it is).
type benchRow struct {
	name, what string
	target     string
	skip       string
}

// BenchmarkHTTPEcho measures, in one run and with the same load generator, every way Trellis can
// answer the echo JSON over HTTP on this machine, and the ratios between them:
//
//	nethttp      plain net/http handler
//	hops         net/http gateway → NATS request → Go queue subscriber → back
//	hopsed       hops, the payload signed with ed25519 by the gateway and verified by the subscriber
//	wire         httpserver provider (child process) → NATS → host → echo actor → back
//	builtin      the host's built-in HTTP server (wasmcloud+builtin://http-server) → echo actor
//	wire-inproc  wire with the provider in the test process (only with TRELLIS_BENCH_INPROC=1)
//
// Run it with -benchtime 1x: each iteration is one load of benchWarmup + benchDuration per row.
func BenchmarkHTTPEcho(b *testing.B) {
	l := hosttest.New(b)
	h := l.StartHost(withBuiltinHTTPServer)
	echoID := l.StartActor(h, echoActor(b).Path, benchScale)

	rows := []*benchRow{
		{name: "nethttp", what: "net/http echo", target: plainEcho(b)},
		{name: "hops", what: "gateway → NATS → subscriber", target: hopsEcho(b, l.NS, false)},
		{name: "hopsed", what: "hops + ed25519 sign/verify", target: hopsEcho(b, l.NS, true)},
		{name: "wire", what: "provider process → NATS → host → actor"},
		{name: "builtin", what: "host built-in HTTP server → actor"},
		{name: "wire-inproc", what: "wire, provider in the test process"},
	}
	wire, builtin, inproc := rows[3], rows[4], rows[5]

	providerID := l.StartProvider(h, httpProvider(b).Path, "")
	port := latticetest.FreePort(b)
	l.PutLink(lattice.LinkDefinition{ActorID: echoID, ProviderID: providerID, ContractID: httpserver.ContractID, Values: map[string]string{"ADDRESS": addr(port)}})
	wire.target = url(port, "/")

	if id, err := startProviderRef(l, h, builtinHTTPServer, builtinLinkName); err != nil {
		builtin.skip = fmt.Sprintf("start %s: %v", builtinHTTPServer, err)
	} else {
		port := latticetest.FreePort(b)
		l.PutLink(lattice.LinkDefinition{ActorID: echoID, ProviderID: id, LinkName: builtinLinkName, ContractID: httpserver.ContractID, Values: map[string]string{"ADDRESS": addr(port)}})
		builtin.target = url(port, "/")
	}

	if os.Getenv(envInproc) == "1" {
		inproc.target = inprocProvider(b, l, h, echoID)
	} else {
		inproc.skip = envInproc + "=1 not set"
	}

	// Every row must answer the same body before it is measured.
	for _, r := range rows {
		if r.skip != "" {
			continue // the table says why
		}
		status, body := waitHTTP(b, r.target)
		require.Equal(b, http.StatusOK, status, "%s: %s", r.name, body)
		require.JSONEq(b, echoBody, body, "%s answers another body", r.name)
	}

	profDir := os.Getenv(envCPUProfileDir)
	if profDir != "" {
		require.NoError(b, os.MkdirAll(profDir, 0o755))
	}
	b.ResetTimer()
	for range b.N {
		res := map[string]loadResult{}
		for _, r := range rows {
			if r.skip != "" {
				continue
			}
			prof := ""
			if profDir != "" {
				prof = filepath.Join(profDir, r.name+".pprof")
			}
			res[r.name] = load(b, r.target, prof)
		}
		report(b, rows, res, profDir)
	}
}

// ratios are the ratios BenchmarkHTTPEcho reports as metrics, num/den of req/s, or of p99 with
// p99 set.
var ratios = []struct {
	num, den string
	p99      bool
}{
	{num: "wire", den: "hopsed"},
	{num: "wire", den: "nethttp"},
	{num: "builtin", den: "nethttp"},
	{num: "builtin", den: "nethttp", p99: true},
	{num: "hops", den: "nethttp"},
	{num: "hopsed", den: "nethttp"},
	{num: "wire-inproc", den: "wire"},
}

// report reports every measured row and ratio as metrics and logs them as one table. go test
// keeps only the first 10 lines a benchmark logs, so the table is 9 lines, skip reasons included:
// each row with its ratios to nethttp, then wire against its baseline.
func report(b *testing.B, rows []*benchRow, res map[string]loadResult, profDir string) {
	for _, r := range rows {
		if m, ok := res[r.name]; ok {
			b.ReportMetric(m.rps, r.name+"-req/s")
			b.ReportMetric(float64(m.p50.Microseconds()), r.name+"-p50-µs")
			b.ReportMetric(float64(m.p99.Microseconds()), r.name+"-p99-µs")
		}
	}
	ratio := func(num, den string, p99 bool) (float64, bool) {
		n, okN := res[num]
		d, okD := res[den]
		if !okN || !okD {
			return 0, false
		}
		if p99 {
			return float64(n.p99) / float64(d.p99), true
		}
		return n.rps / d.rps, true
	}
	for _, q := range ratios {
		name := q.num + "/" + q.den
		if q.p99 {
			name = q.num + "-p99/" + q.den + "-p99"
		}
		if v, ok := ratio(q.num, q.den, q.p99); ok {
			b.ReportMetric(v, name)
		}
	}
	show := func(num, den string, p99 bool) string {
		if v, ok := ratio(num, den, p99); ok {
			return fmt.Sprintf("%.3f", v)
		}
		return "-"
	}

	var t strings.Builder
	fmt.Fprintf(&t, "HTTP echo, %d connections, %v warm-up + %v timed per row", benchConns, benchWarmup, benchDuration)
	if profDir != "" {
		fmt.Fprintf(&t, ", CPU profiles in %s/ROW.pprof", profDir)
	}
	fmt.Fprintf(&t, "\n%-11s  %7s  %7s  %7s  %6s  %7s  %7s  %s\n", "row", "req/s", "p50", "p99", "errors", "÷nethttp", "p99÷net", "what")
	for _, r := range rows {
		m, ok := res[r.name]
		if !ok {
			fmt.Fprintf(&t, "%-11s  skipped: %s\n", r.name, r.skip)
			continue
		}
		fmt.Fprintf(&t, "%-11s  %7.0f  %7s  %7s  %6d  %8s  %7s  %s\n", r.name, m.rps, roundLatency(m.p50), roundLatency(m.p99), m.errors,
			show(r.name, "nethttp", false), show(r.name, "nethttp", true), r.what)
	}
	fmt.Fprintf(&t, "wire/hopsed %s (target >= 0.95), wire-inproc/wire %s", show("wire", "hopsed", false), show("wire-inproc", "wire", false))
	b.Log(t.String())
}

func roundLatency(d time.Duration) string {
	if d >= time.Millisecond {
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// echoJSON is the body the echo actor answers for r: what every row serves.
func echoJSON(r *http.Request) []byte {
	return fmt.Appendf(nil, `{"body":[],"method":%q,"path":%q,"query_string":%q}`, r.Method, r.URL.Path, r.URL.RawQuery)
}

// serveHTTP serves handler on a free loopback port until the benchmark ends and returns its URL.
func serveHTTP(b *testing.B, handler http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	srv := &http.Server{Handler: handler}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String() + "/"
}

// plainEcho serves the echo body from a plain net/http handler and returns its URL.
func plainEcho(b *testing.B) string {
	return serveHTTP(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(echoJSON(r))
	}))
}

type loadResult struct {
	requests, errors int
	rps              float64
	p50, p99         time.Duration
}

// load runs benchConns keep-alive connections against target for the warm-up, then for
// benchDuration, and returns throughput and latency percentiles of the timed part. With profile
// set, a CPU profile of the test process during the timed part is written there.
func load(b *testing.B, target, profile string) loadResult {
	tr := &http.Transport{MaxIdleConnsPerHost: benchConns, MaxConnsPerHost: benchConns}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	run := func(d time.Duration) ([]time.Duration, int) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		var mu sync.Mutex
		var all []time.Duration
		errs := 0
		var wg sync.WaitGroup
		for range benchConns {
			wg.Go(func() {
				// One request per connection, sent again and again: no URL parsing per request.
				req, err := http.NewRequest(http.MethodGet, target, nil)
				if err != nil {
					panic(err)
				}
				mine := make([]time.Duration, 0, 4096)
				bad := 0
				for ctx.Err() == nil {
					start := time.Now()
					resp, err := client.Do(req)
					if err != nil {
						bad++
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						bad++
						continue
					}
					mine = append(mine, time.Since(start))
				}
				mu.Lock()
				all = append(all, mine...)
				errs += bad
				mu.Unlock()
			})
		}
		wg.Wait()
		return all, errs
	}
	run(benchWarmup)
	stop := startProfile(b, profile)
	lat, errs := run(benchDuration)
	stop()
	if len(lat) == 0 {
		b.Fatalf("no successful requests to %s (%d errors)", target, errs)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return loadResult{
		requests: len(lat), errors: errs, rps: float64(len(lat)) / benchDuration.Seconds(),
		p50: lat[len(lat)/2], p99: lat[len(lat)*99/100],
	}
}

// startProfile starts a CPU profile into path ("" : none) and returns what stops it. A profile
// that cannot start (go test -cpuprofile runs one already) is logged and left out.
func startProfile(b *testing.B, path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	require.NoError(b, err)
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Logf("no CPU profile %s: %v", path, err)
		_ = f.Close()
		_ = os.Remove(path)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		require.NoError(b, f.Close())
	}
}
