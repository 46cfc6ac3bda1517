package keyvalue_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// redisServer is a redis-server process started for a test.
type redisServer struct {
	URL    string
	Client *redis.Client
}

// startRedis starts Debian's redis-server on a free port with persistence off, waits until it
// answers PING, and stops it when the test ends. Without the binary the test fails in CI
// (CI=true) and is skipped elsewhere.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		const msg = "redis-server not found in PATH: install it with `apt-get install redis-server`"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	port := freePort(t)
	var out latticetest.SyncBuffer
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start(), "start redis-server")
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	opt, err := redis.ParseURL(url)
	require.NoError(t, err)
	opt.DisableIdentity = true
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			break
		}
		select {
		case werr := <-exited:
			t.Fatalf("redis-server exited before answering PING: %v\n%s", werr, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on port %d did not answer PING within 10s: %v\n%s", port, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &redisServer{URL: url, Client: c}
}

// flush empties the database.
func (r *redisServer) flush(t *testing.T) {
	t.Helper()
	require.NoError(t, r.Client.FlushDB(context.Background()).Err())
}

// freePort returns a TCP port free on 127.0.0.1 at the time of the call.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
