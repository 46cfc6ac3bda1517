package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/dashboard"
	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// Shape of the many-hosts lattice (docs/benchmarks.md): scaleHosts hosts in one process, each
// running scaleActors distinct tiny actors with scaleInstances instances each, so 50 × 5 × 20 =
// 5,000 actor instances; the baseline is one host with the same per-host load.
const (
	scaleHosts     = 50
	scaleActors    = 5
	scaleInstances = 20
)

// scaleLattice is a lattice of n hosts, each running the same actors.
type scaleLattice struct {
	l     *hosttest.Lattice
	hosts []*host.Host
	// startTook is how long starting every instance took, and cpu the process's CPU meanwhile.
	startTook, cpu time.Duration
	// beats counts host_heartbeat events and their bytes, by host.
	mu    sync.Mutex
	beats map[string][2]int
}

func startScaleLattice(b *testing.B, n int, actors []latticetest.Actor) *scaleLattice {
	b.Helper()
	s := &scaleLattice{l: hosttest.New(b), beats: map[string][2]int{}}
	sub, err := s.l.NC.Subscribe(s.l.Ctl.Subjects().Events(), func(m *nats.Msg) {
		var ev lattice.CloudEvent
		if json.Unmarshal(m.Data, &ev) != nil || ev.Name() != lattice.EventHostHeartbeat {
			return
		}
		s.mu.Lock()
		c := s.beats[ev.Source]
		s.beats[ev.Source] = [2]int{c[0] + 1, c[1] + len(m.Data)}
		s.mu.Unlock()
	})
	require.NoError(b, err)
	b.Cleanup(func() { _ = sub.Unsubscribe() })
	for range n {
		s.hosts = append(s.hosts, s.l.StartHost(func(c *host.Config) { c.Logger = zerolog.Nop() }))
	}
	// Start every actor on every host, a few hosts at a time.
	began, cpu0 := time.Now(), processCPU(b)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	errs := make(chan error, n*len(actors))
	for _, h := range s.hosts {
		for _, a := range actors {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				errs <- s.start(h, a)
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(b, err)
	}
	// A start ends at its first actor_started; the other instances follow.
	want := n * len(actors) * scaleInstances
	require.Eventually(b, func() bool {
		got, err := s.instances(context.Background())
		return err == nil && got == want
	}, 2*time.Minute, 100*time.Millisecond, "%d instance records in the inventories", want)
	s.startTook, s.cpu = time.Since(began), processCPU(b)-cpu0
	return s
}

// start starts scaleInstances instances of a on h and waits for them.
func (s *scaleLattice) start(h *host.Host, a latticetest.Actor) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	match := lattice.ActorStart(h.ID(), a.Path)
	w, err := s.l.Ctl.NewWaiter(match.Match)
	if err != nil {
		return err
	}
	defer w.Stop()
	if err := s.l.Ctl.StartActor(ctx, lattice.StartActorCommand{ActorRef: a.Path, HostID: h.ID(), Count: scaleInstances}); err != nil {
		return err
	}
	ev, err := w.Wait(ctx)
	if err != nil {
		return fmt.Errorf("start %s on %s: %w", a.ID, h.ID(), err)
	}
	if o, _ := match(ev); o.Failed {
		return fmt.Errorf("start %s on %s: %s", a.ID, h.ID(), o.Error)
	}
	return nil
}

// instances counts the instance records of every host's inventory.
func (s *scaleLattice) instances(ctx context.Context) (int, error) {
	total := 0
	for _, h := range s.hosts {
		inv, err := s.l.Ctl.GetInventory(ctx, h.ID())
		if err != nil {
			return 0, err
		}
		for _, a := range inv.Actors {
			total += len(a.Instances)
		}
	}
	return total, nil
}

// BenchmarkManyHosts measures what a lattice operator waits for when the lattice grows to
// scaleHosts hosts and 5,000 actor instances, against one host with the same load per host, both
// in this run:
//
//	get-hosts            ctl get hosts (ping.hosts, every host answers, the quiet period)
//	get-inventory-all    ctl get inventory of every host, one after the other
//	heartbeat            the bytes of host_heartbeat each host publishes per minute at the
//	                     default 30 s interval (and the extra ones each get hosts causes)
//	dashboard            a new dashboard: the time until it shows every host with all its
//	                     instances, then GET /api/lattice (the page's whole view) per op
//
// The lattice is set up once per benchmark run (a minute or more); its sub-benchmarks then run
// with the usual b.N. The ratios 50 hosts / 1 host are logged at the end.
func BenchmarkManyHosts(b *testing.B) {
	actors := make([]latticetest.Actor, scaleActors)
	for i := range actors {
		actors[i] = latticetest.SignModule(b, latticetest.TinyEcho(), lattice.ActorMetadata{Name: fmt.Sprintf("tiny %d", i)}, lattice.SignOptions{})
	}
	ctx := context.Background()
	perOp := map[string]time.Duration{}
	for _, n := range []int{1, scaleHosts} {
		s := startScaleLattice(b, n, actors)
		b.Logf("hosts=%d: %d instances started in %v, %v of CPU", n, n*scaleActors*scaleInstances, s.startTook.Round(time.Millisecond), s.cpu.Round(time.Millisecond))
		b.Run(fmt.Sprintf("get-hosts/hosts=%d", n), func(b *testing.B) {
			for range b.N {
				hosts, err := s.l.Ctl.GetHosts(ctx)
				require.NoError(b, err)
				require.Len(b, hosts, n)
			}
			perOp[fmt.Sprintf("get-hosts/%d", n)] = b.Elapsed() / time.Duration(b.N)
		})
		b.Run(fmt.Sprintf("get-inventory-all/hosts=%d", n), func(b *testing.B) {
			for range b.N {
				got, err := s.instances(ctx)
				require.NoError(b, err)
				require.Equal(b, n*scaleActors*scaleInstances, got)
			}
			perOp[fmt.Sprintf("get-inventory-all/%d", n)] = b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/host")
		})
		b.Run(fmt.Sprintf("heartbeat/hosts=%d", n), func(b *testing.B) {
			// Every host publishes a heartbeat after a ping.hosts: count them and their size.
			s.mu.Lock()
			clear(s.beats)
			s.mu.Unlock()
			for range b.N {
				_, err := s.l.Ctl.GetHosts(ctx)
				require.NoError(b, err)
			}
			require.Eventually(b, func() bool {
				s.mu.Lock()
				defer s.mu.Unlock()
				return len(s.beats) == n
			}, 30*time.Second, 10*time.Millisecond, "a heartbeat from every host")
			s.mu.Lock()
			var count, bytes int
			for _, c := range s.beats {
				count, bytes = count+c[0], bytes+c[1]
			}
			s.mu.Unlock()
			size := float64(bytes) / float64(count)
			b.ReportMetric(size, "B/heartbeat")
			b.ReportMetric(size*60/host.DefaultConfig().HeartbeatInterval.Seconds(), "B/host/min")
			b.ReportMetric(float64(count)/float64(b.N), "heartbeats/get-hosts")
		})
		b.Run(fmt.Sprintf("dashboard/hosts=%d", n), func(b *testing.B) {
			srv, converged := startScaleDashboard(b, s, n)
			perOp[fmt.Sprintf("dashboard-converge/%d", n)] = converged
			b.ResetTimer()
			var size int
			for range b.N {
				res, err := http.Get(srv + "/api/lattice")
				require.NoError(b, err)
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				require.NoError(b, err)
				require.Equal(b, http.StatusOK, res.StatusCode)
				size = len(body)
			}
			perOp[fmt.Sprintf("dashboard-view/%d", n)] = b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(converged.Milliseconds()), "ms-to-converge")
			b.ReportMetric(float64(size), "B/view")
		})
	}
	for _, op := range []string{"get-hosts", "get-inventory-all", "dashboard-converge", "dashboard-view"} {
		one, many := perOp[op+"/1"], perOp[fmt.Sprintf("%s/%d", op, scaleHosts)]
		if one > 0 {
			b.Logf("%s: %v with 1 host, %v with %d hosts: ×%.2f", op, one, many, scaleHosts, float64(many)/float64(one))
		}
	}
}

// startScaleDashboard serves a dashboard of s's lattice until the benchmark ends and returns its
// URL and how long it took, from its start, to show every host with all its instances.
func startScaleDashboard(b *testing.B, s *scaleLattice, n int) (string, time.Duration) {
	b.Helper()
	nc := latticetest.Connect(b, s.l.NS)
	client, err := lattice.NewClient(nc, lattice.ClientConfig{Lattice: lattice.DefaultLattice})
	require.NoError(b, err)
	cfg := dashboard.DefaultConfig()
	cfg.Client, cfg.NC = client, nc
	d, err := dashboard.New(cfg)
	require.NoError(b, err)
	srv := httptest.NewServer(d.Handler())
	b.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- d.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		<-done
	})
	want := n * scaleActors * scaleInstances
	require.Eventually(b, func() bool {
		var v struct {
			Hosts []struct {
				Instances int `json:"instances"`
			} `json:"hosts"`
		}
		res, err := http.Get(srv.URL + "/api/lattice")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		if json.NewDecoder(res.Body).Decode(&v) != nil || len(v.Hosts) != n {
			return false
		}
		total := 0
		for _, h := range v.Hosts {
			total += h.Instances
		}
		return total == want
	}, time.Minute, 20*time.Millisecond, "the dashboard never showed %d hosts and %d instances", n, want)
	return srv.URL, time.Since(start)
}

// processCPU is the CPU time the test process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
