package latticetest

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// LeafHub describes a hub server that leaf nodes join.
type LeafHub struct {
	// Domain is the hub's JetStream domain; empty for none.
	Domain string
	// User and Password, when set, are required of leaf connections.
	User, Password string
}

// Hub is a running hub: a NATS server with JetStream and a leaf node listener.
type Hub struct {
	*server.Server
	// LeafURL is where leaf nodes connect (nats://127.0.0.1:PORT, without credentials).
	LeafURL string
}

// LeafURLWith is the hub's leaf URL with user:password in it.
func (h *Hub) LeafURLWith(user, password string) string {
	u, _ := url.Parse(h.LeafURL)
	u.User = url.UserPassword(user, password)
	return u.String()
}

// RunLeafHub starts an in-process hub on 127.0.0.1: clients on a free port, JetStream on a fresh
// store directory (in cfg.Domain), leaf nodes on another free port. It is shut down when the test
// ends.
func RunLeafHub(t testing.TB, cfg LeafHub) *Hub {
	t.Helper()
	leafPort := FreePort(t)
	opts := &server.Options{
		ServerName:      "hub",
		Host:            "127.0.0.1",
		Port:            -1,
		JetStream:       true,
		JetStreamDomain: cfg.Domain,
		StoreDir:        t.TempDir(),
		NoLog:           true,
		NoSigs:          true,
		LeafNode: server.LeafNodeOpts{
			Host:     "127.0.0.1",
			Port:     leafPort,
			Username: cfg.User,
			Password: cfg.Password,
		},
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("nats hub: %v", err)
	}
	s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats hub not ready after 10s (leaf port %d)", leafPort)
	}
	return &Hub{Server: s, LeafURL: fmt.Sprintf("nats://127.0.0.1:%d", leafPort)}
}
