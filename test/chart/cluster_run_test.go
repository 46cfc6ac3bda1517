package chart_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// The configuration the chart renders for a NATS cluster runs: three real nats-servers, each with
// it as its pod would have it (SERVER_NAME its pod's name; only the addresses are local ones,
// the pods' DNS names and fixed ports replaced by 127.0.0.1 and free ports), log in to each
// other's routes with the route user and form one JetStream cluster; the host user makes a
// bucket with three replicas, and it keeps its keys and takes writes when the server leading it
// shuts down. A server dialling the routes without the route password is refused.
func TestNATSClusterRuns(t *testing.T) {
	n := renderNATS(t, "--set", "nats.cluster.enabled=true")
	const pods = 3
	client, route := make([]int, pods), make([]int, pods)
	for i := range pods {
		client[i], route[i] = latticetest.FreePort(t), latticetest.FreePort(t)
	}
	local := func(conf string, i int) string {
		conf = strings.Replace(conf, "listen: 0.0.0.0:4222", fmt.Sprintf("listen: 127.0.0.1:%d", client[i]), 1)
		conf = strings.Replace(conf, "listen: 0.0.0.0:6222", fmt.Sprintf("listen: 127.0.0.1:%d", route[i]), 1)
		conf = strings.Replace(conf, "http: 0.0.0.0:8222\n", "", 1)
		conf = strings.Replace(conf, "store_dir: /data", "store_dir: "+filepath.ToSlash(filepath.Join(t.TempDir(), "js")), 1)
		for j := range pods {
			conf = strings.ReplaceAll(conf, fmt.Sprintf("demo-trellis-nats-%d.demo-trellis-nats-headless:6222", j), fmt.Sprintf("127.0.0.1:%d", route[j]))
		}
		require.NotContains(t, conf, "-headless:", "a pod's name left in the configuration")
		return conf
	}
	start := func(name, conf string) *server.Server {
		t.Helper()
		path := filepath.Join(t.TempDir(), "nats.conf")
		require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
		t.Setenv("SERVER_NAME", name) // as the pod's environment sets it
		opts, err := server.ProcessConfigFile(path)
		require.NoError(t, err, "nats-server does not take the chart's configuration:\n%s", conf)
		require.Equal(t, name, opts.ServerName)
		opts.NoSigs, opts.NoLog = true, true
		// A client's handshake may take over the 2 s of the server's first ping on a busy machine
		// (-race, other tests); the client would then read that PING where it expects its PONG.
		opts.DisableShortFirstPing = true
		ns, err := server.NewServer(opts)
		require.NoError(t, err)
		go ns.Start()
		require.True(t, ns.ReadyForConnections(10*time.Second), "nats-server %s did not start", name)
		t.Cleanup(ns.Shutdown)
		return ns
	}
	servers := make([]*server.Server, pods)
	for i := range pods {
		servers[i] = start(fmt.Sprintf("demo-trellis-nats-%d", i), local(n.conf, i))
	}
	// Each dials all three (itself too, which it drops): two routes each once the cluster is up.
	require.Eventually(t, func() bool {
		for _, s := range servers {
			if s.NumRoutes() < pods-1 || !s.JetStreamIsCurrent() {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "the servers did not form a JetStream cluster")
	require.Equal(t, "demo-trellis-nats", servers[0].ClusterName())

	// The host user, given every server's URL as the chart gives the hosts.
	var urls []string
	for _, s := range servers {
		urls = append(urls, s.ClientURL())
	}
	var nc *nats.Conn
	var err error
	// Connecting is retried: on a busy machine a handshake can outlast its timeout.
	require.Eventually(t, func() bool {
		nc, err = nats.Connect(strings.Join(urls, ","), nats.UserInfo(n.hostUser, n.hostPassword), nats.MaxReconnects(-1),
			nats.ReconnectWait(100*time.Millisecond), nats.Timeout(10*time.Second))
		if err != nil {
			t.Logf("connect %v: %v", urls, err)
		}
		return err == nil
	}, 60*time.Second, 200*time.Millisecond, "connect as the host user")
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var kv jetstream.KeyValue
	require.Eventually(t, func() bool {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "LATTICEDATA_default", Replicas: pods})
		if err != nil {
			t.Logf("create an R3 bucket: %v", err)
		}
		return err == nil
	}, 30*time.Second, 200*time.Millisecond, "no R3 bucket")
	_, err = kv.Put(ctx, "LINKDEF_1", []byte("a link"))
	require.NoError(t, err)

	info, err := js.Stream(ctx, "KV_LATTICEDATA_default")
	require.NoError(t, err)
	leader := info.CachedInfo().Cluster.Leader
	require.Len(t, info.CachedInfo().Cluster.Replicas, pods-1, "the bucket is on every server")
	for _, s := range servers {
		if s.Name() == leader {
			s.Shutdown()
		}
	}
	// A new leader among the other two: the key is there and a write works.
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		e, err := kv.Get(ctx, "LINKDEF_1")
		if err != nil || string(e.Value()) != "a link" {
			t.Logf("get: %v (connected to %s)", err, nc.ConnectedUrl())
			return false
		}
		_, err = kv.Put(ctx, "LINKDEF_2", []byte("after the loss"))
		if err != nil {
			t.Logf("put: %v", err)
		}
		return err == nil
	}, 30*time.Second, 200*time.Millisecond, "the bucket did not survive the loss of its leader %s", leader)

	// A server that dials the routes without the route password does not join.
	stranger := n.conf
	for _, line := range strings.Split(n.conf, "\n") {
		if strings.Contains(line, "nats://trellis-route:") {
			stranger = strings.Replace(stranger, line, strings.Replace(line, "trellis-route:", "trellis-route:wrong", 1), 1)
		}
	}
	stranger = strings.Replace(stranger, "password: \"", "password: \"wrong", 1)
	client = append(client, latticetest.FreePort(t))
	route = append(route, latticetest.FreePort(t))
	intruder := start("intruder", local(stranger, pods))
	require.True(t, intruder.ReadyForConnections(10*time.Second))
	// (The intruder may count its own dial as a route for a moment, until the other end refuses it:
	// whether it got in is what the cluster's servers say.)
	require.Never(t, func() bool {
		for _, s := range servers {
			if !s.Running() {
				continue
			}
			rz, err := s.Routez(&server.RoutezOptions{})
			if err != nil {
				continue
			}
			for _, r := range rz.Routes {
				if r.RemoteName == "intruder" {
					return true
				}
			}
		}
		return false
	}, 3*time.Second, 100*time.Millisecond, "a server without the route password joined the cluster")
}
