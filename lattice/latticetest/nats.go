// Package latticetest holds test helpers for code built on package lattice: an in-process NATS
// server with JetStream (or a cluster of them, RunCluster), connections to it, keys, and signed
// actors. Everything it starts is
// stopped in t.Cleanup.
//
// It may import lattice, never host, providers or any other component.
package latticetest

import (
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trellis-lattice/trellis/lattice"
)

// RunNATS starts an in-process NATS server on 127.0.0.1 and a free port, JetStream on with a
// fresh store directory, and shuts it down when the test ends.
func RunNATS(t testing.TB) *server.Server {
	t.Helper()
	return RunNATSWithDir(t, t.TempDir(), -1)
}

// RunNATSWithDir starts a server like RunNATS whose JetStream data lives in dir. port -1 picks a
// free port; to restart a server in place, shut the first one down and start another with the
// same dir and the first one's port (Port), and clients made by Connect reconnect to it.
func RunNATSWithDir(t testing.TB, dir string, port int) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  dir,
		NoLog:     true,
		NoSigs:    true,
	})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats server on %s not ready after 10s", dir)
	}
	return s
}

// Port returns the client port of a running server.
func Port(t testing.TB, s *server.Server) int {
	t.Helper()
	addr, ok := s.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("nats server has no TCP address")
	}
	return addr.Port
}

// Connect connects to s, reconnecting forever every 50ms when the server goes away, and closes the
// connection when the test ends.
func Connect(t testing.TB, s *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(),
		nats.Name(t.Name()),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond),
		nats.ReconnectJitter(0, 0),
	)
	if err != nil {
		t.Fatalf("connect to nats %s: %v", s.ClientURL(), err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// JetStream returns a JetStream context on nc.
func JetStream(t testing.TB, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return js
}

// Key returns a new key pair of the given kind.
func Key(t testing.TB, prefix lattice.KeyPrefix) *lattice.KeyPair {
	t.Helper()
	kp, err := lattice.CreateKeyPair(prefix)
	if err != nil {
		t.Fatalf("create %s key: %v", prefix, err)
	}
	return kp
}
