package latticetest

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Cluster is a NATS cluster of in-process servers, JetStream on each with its own store.
type Cluster struct {
	Name    string
	Servers []*server.Server
	routes  []*url.URL
}

// RunCluster starts n servers (n ≥ 1) in one NATS cluster on 127.0.0.1, client and route ports
// picked free, JetStream on each with its own store directory and server names n1, n2, …; it
// returns once every server is ready and the cluster has elected its JetStream meta leader, and
// shuts each server down when the test ends.
func RunCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("nats cluster of %d servers", n)
	}
	c := &Cluster{Name: "trellis-test"}
	ports := make([]int, n)
	for i := range ports {
		ports[i] = FreePort(t)
		c.routes = append(c.routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", ports[i])})
	}
	for i := range n {
		opts := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoLog:      true,
			NoSigs:     true,
			Cluster:    server.ClusterOpts{Name: c.Name, Host: "127.0.0.1", Port: ports[i]},
			Routes:     c.routes,
		}
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatalf("nats cluster server %s: %v", opts.ServerName, err)
		}
		s.Start()
		t.Cleanup(func() {
			s.Shutdown()
			s.WaitForShutdown()
		})
		c.Servers = append(c.Servers, s)
	}
	for _, s := range c.Servers {
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("nats cluster server %s not ready after 10s", s.Name())
		}
	}
	c.WaitMetaLeader(t)
	return c
}

// URLs are the client URLs of the servers, comma-separated, for a client that fails over.
func (c *Cluster) URLs() string {
	var urls []string
	for _, s := range c.Servers {
		urls = append(urls, s.ClientURL())
	}
	return strings.Join(urls, ",")
}

// Connect connects to the cluster with every server's URL, so the connection fails over when
// its server goes, reconnecting forever every 50ms; it is closed when the test ends.
func (c *Cluster) Connect(t testing.TB) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(c.URLs(),
		nats.Name(t.Name()),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond),
		nats.ReconnectJitter(0, 0),
	)
	if err != nil {
		t.Fatalf("connect to nats cluster %s: %v", c.URLs(), err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Server returns the server of that name (ServerName, e.g. "n2"), nil when there is none.
func (c *Cluster) Server(name string) *server.Server {
	for _, s := range c.Servers {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

// Running are the servers not shut down.
func (c *Cluster) Running() []*server.Server {
	var out []*server.Server
	for _, s := range c.Servers {
		if s.Running() {
			out = append(out, s)
		}
	}
	return out
}

// WaitMetaLeader waits until the running servers agree on a JetStream meta leader, every one of
// them connected to the others by routes; it fails the test after 20s.
func (c *Cluster) WaitMetaLeader(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c.metaLeader() != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nats cluster %s: no JetStream meta leader after 20s", c.Name)
}

// metaLeader is the running server that leads the JetStream meta group, when every running one
// has routes to the others and it has seen them join.
func (c *Cluster) metaLeader() *server.Server {
	running := c.Running()
	var leader *server.Server
	for _, s := range running {
		if s.NumRoutes() < len(running)-1 || !s.JetStreamEnabled() {
			return nil
		}
		if s.JetStreamIsLeader() {
			leader = s
		}
	}
	if leader == nil || !leader.JetStreamIsCurrent() {
		return nil
	}
	for _, s := range running {
		if !s.JetStreamIsCurrent() {
			return nil
		}
	}
	return leader
}
