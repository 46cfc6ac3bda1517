package integration_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

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

// BenchmarkHTTPEcho measures HTTP echo through the whole lattice path (httpserver provider →
// NATS → host → echo actor) and a plain net/http handler answering the same JSON, with the same
// load generator in the same run, and reports both and their ratio. Run it with -benchtime 1x:
// each run is one timed load of benchDuration per target.
func BenchmarkHTTPEcho(b *testing.B) {
	l := hosttest.New(b)
	h := l.StartHost()
	echoID := l.StartActor(h, echoActor(b).Path, benchScale)
	providerID := l.StartProvider(h, httpProvider(b).Path, "")
	port := latticetest.FreePort(b)
	l.PutLink(lattice.LinkDefinition{ActorID: echoID, ProviderID: providerID, ContractID: httpserver.ContractID, Values: map[string]string{"ADDRESS": addr(port)}})
	waitHTTP(b, url(port, "/"))

	plain := plainEcho(b)
	for range b.N {
		latticeRes := load(b, url(port, "/"))
		plainRes := load(b, plain)
		b.ReportMetric(latticeRes.rps, "lattice-req/s")
		b.ReportMetric(float64(latticeRes.p50.Microseconds()), "lattice-p50-µs")
		b.ReportMetric(float64(latticeRes.p99.Microseconds()), "lattice-p99-µs")
		b.ReportMetric(plainRes.rps, "nethttp-req/s")
		b.ReportMetric(float64(plainRes.p50.Microseconds()), "nethttp-p50-µs")
		b.ReportMetric(float64(plainRes.p99.Microseconds()), "nethttp-p99-µs")
		b.ReportMetric(latticeRes.rps/plainRes.rps, "ratio")
		b.Logf("lattice: %s", latticeRes)
		b.Logf("net/http: %s", plainRes)
		b.Logf("ratio (lattice/net/http req/s) at %d connections: %.3f", benchConns, latticeRes.rps/plainRes.rps)
	}
}

// plainEcho serves the echo body from a plain net/http handler and returns its URL.
func plainEcho(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"body":[],"method":%q,"path":%q,"query_string":%q}`, r.Method, r.URL.Path, r.URL.RawQuery)
	})}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String() + "/"
}

type loadResult struct {
	requests, errors int
	rps              float64
	p50, p99         time.Duration
}

func (r loadResult) String() string {
	return fmt.Sprintf("%d requests, %d errors, %.0f req/s, p50 %v, p99 %v", r.requests, r.errors, r.rps, r.p50, r.p99)
}

// load runs benchConns keep-alive connections against url for the warm-up, then for
// benchDuration, and returns throughput and latency percentiles of the timed part.
func load(b *testing.B, target string) loadResult {
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
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				bad := 0
				for ctx.Err() == nil {
					start := time.Now()
					resp, err := client.Get(target)
					if err != nil {
						bad++
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						bad++
						continue
					}
					mine = append(mine, time.Since(start))
				}
				mu.Lock()
				all = append(all, mine...)
				errs += bad
				mu.Unlock()
			}()
		}
		wg.Wait()
		return all, errs
	}
	run(benchWarmup)
	lat, errs := run(benchDuration)
	if len(lat) == 0 {
		b.Fatalf("no successful requests to %s (%d errors)", target, errs)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return loadResult{
		requests: len(lat), errors: errs, rps: float64(len(lat)) / benchDuration.Seconds(),
		p50: lat[len(lat)/2], p99: lat[len(lat)*99/100],
	}
}
