package integration_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// TestLatticeSurvivesTheLossOfTheBucketLeader is the lattice on a three-server NATS cluster with
// replicated state (R3 buckets): two hosts on different servers, the httpserver provider and the
// echo actor (on both hosts), a link. While a client calls the echo actor over HTTP, the server
// leading the LATTICEDATA bucket's stream is shut down. Serving resumes within a bounded time
// (the failed requests are counted and logged), the links and claims are all still there, and a
// link put after the loss works.
func TestLatticeSurvivesTheLossOfTheBucketLeader(t *testing.T) {
	c := latticetest.RunCluster(t, 3)
	urls := strings.Split(c.URLs(), ",")
	l := hosttest.OnWith(t, c.Servers[0], lattice.NATSConfig{Servers: urls})
	r3 := func(cfg *host.Config) { cfg.JSReplicas = 3 }

	// Two hosts on different servers: the client library picks a server of the list at random,
	// so a host that lands on the first one's server is replaced.
	a := l.StartHost(r3)
	serverA := serverOf(t, c, "trellis host "+a.ID())
	var b *host.Host
	for range 10 {
		b = l.StartHost(r3)
		if serverOf(t, c, "trellis host "+b.ID()) != serverA {
			break
		}
		b.Stop()
		b = nil
	}
	require.NotNil(t, b, "no second host on another server than the first's (%s) in 10 tries", serverA)
	serverB := serverOf(t, c, "trellis host "+b.ID())
	t.Logf("host A on %s, host B on %s", serverA, serverB)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	js := latticetest.JetStream(t, l.NC)
	data := lattice.NewSubjects(lattice.DefaultLattice).Buckets()[0]
	st, err := lattice.BucketStateOf(ctx, js, data)
	require.NoError(t, err)
	require.Equal(t, 3, st.Replicas, "the hosts made the lattice data with three replicas")

	echo := echoActor(t)
	echoID := l.StartActor(a, echo.Path, 1)
	require.Equal(t, echoID, l.StartActor(b, echo.Path, 1))
	providerID := l.StartProvider(a, httpProvider(t).Path, "")
	port := latticetest.FreePort(t)
	link := lattice.LinkDefinition{ActorID: echoID, ProviderID: providerID, ContractID: httpserver.ContractID, Values: map[string]string{"ADDRESS": addr(port)}}
	l.PutLink(link)
	status, body := waitHTTP(t, url(port, "/"))
	require.Equal(t, 200, status)
	require.Equal(t, echoBody, body)
	claimsBefore := claimSubjects(ctx, t, l)
	require.Contains(t, claimsBefore, echoID)
	require.Contains(t, claimsBefore, providerID)

	// The client: one request after another, counting.
	var ok, failed atomic.Int64
	var lastErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			status, body, err := get(url(port, "/"))
			if err == nil && status == 200 && body == echoBody {
				ok.Add(1)
			} else {
				failed.Add(1)
				if err != nil {
					lastErr.Store(err.Error())
				} else {
					lastErr.Store(body)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	})
	require.Eventually(t, func() bool { return ok.Load() >= 50 }, 30*time.Second, 10*time.Millisecond, "the echo actor serves")

	st, err = lattice.BucketStateOf(ctx, js, data)
	require.NoError(t, err)
	require.NotEmpty(t, st.Leader)
	lost := c.Server(st.Leader)
	require.NotNil(t, lost, "the bucket's leader %q is a server of the cluster", st.Leader)
	t.Logf("shutting down %s, leader of %s", st.Leader, st.Stream)
	okAtLoss, failedAtLoss := ok.Load(), failed.Load()
	lostAt := time.Now()
	lost.Shutdown()
	lost.WaitForShutdown()

	// Serving resumes: 50 answers more after the loss, within a bound.
	require.Eventually(t, func() bool { return ok.Load() >= okAtLoss+50 }, 60*time.Second, 10*time.Millisecond,
		"serving does not resume after the loss of %s (failed %d, last error %v)", st.Leader, failed.Load(), lastErr.Load())
	resumed := time.Since(lostAt)
	close(stop)
	wg.Wait()
	t.Logf("after the loss of %s: %d requests failed (last error: %v; %d failed before it), %d succeeded in all; 50 answers again %s after the loss",
		st.Leader, failed.Load()-failedAtLoss, lastErr.Load(), failedAtLoss, ok.Load(), resumed.Round(time.Millisecond))

	// A new leader, and the state is all there.
	require.Eventually(t, func() bool {
		st, err := lattice.BucketStateOf(ctx, js, data)
		return err == nil && st.Leader != "" && st.Leader != lost.Name() && st.Current >= 2
	}, 30*time.Second, 50*time.Millisecond, "the bucket gets a new leader")
	var links []lattice.LinkDefinition
	require.Eventually(t, func() bool {
		links, err = l.Ctl.GetLinks(ctx)
		return err == nil
	}, 30*time.Second, 50*time.Millisecond, "get links after the loss: %v", err)
	require.Len(t, links, 1)
	require.Equal(t, link.Values, links[0].Values)
	require.Equal(t, providerID, links[0].ProviderID)
	require.Equal(t, claimsBefore, claimSubjects(ctx, t, l), "the claims are all there")

	// A link put after the loss works: a second actor, on host B, served on another port.
	other := latticetest.SignedActor(t, "./actor/examples/echo", lattice.ActorMetadata{Name: "echo after the loss", Caps: []string{httpserver.ContractID}}, lattice.SignOptions{})
	otherID := l.StartActor(b, other.Path, 1)
	port2 := latticetest.FreePort(t)
	l.PutLink(lattice.LinkDefinition{ActorID: otherID, ProviderID: providerID, ContractID: httpserver.ContractID, Values: map[string]string{"ADDRESS": addr(port2)}})
	status, body = waitHTTP(t, url(port2, "/"))
	require.Equal(t, 200, status)
	require.Equal(t, echoBody, body)
	links, err = l.Ctl.GetLinks(ctx)
	require.NoError(t, err)
	require.Len(t, links, 2)
}

// serverOf is the name of the cluster's server the client connection of that name is on.
func serverOf(t *testing.T, c *latticetest.Cluster, name string) string {
	t.Helper()
	var found string
	require.Eventually(t, func() bool {
		for _, s := range c.Running() {
			cz, err := s.Connz(&server.ConnzOptions{})
			if err != nil {
				continue
			}
			for _, ci := range cz.Conns {
				if ci.Name == name {
					found = s.Name()
					return true
				}
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "no server has a connection named %q", name)
	return found
}

// claimSubjects are the subjects of the lattice's claims, sorted.
func claimSubjects(ctx context.Context, t *testing.T, l *hosttest.Lattice) []string {
	t.Helper()
	var subs []string
	require.Eventually(t, func() bool {
		claims, err := l.Ctl.GetClaims(ctx)
		if err != nil {
			return false
		}
		subs = subs[:0]
		for _, c := range claims {
			subs = append(subs, c["sub"])
		}
		return true
	}, 30*time.Second, 50*time.Millisecond, "get claims")
	slices.Sort(subs)
	return subs
}
