package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// buildExampleActor compiles actor/examples/<name> for wasip1 into dir.
func buildExampleActor(t *testing.T, dir, name string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the go toolchain is needed to build the %s actor: %v", name, err)
		}
		t.Skipf("go toolchain not on PATH, cannot build the %s actor: %v", name, err)
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	out := filepath.Join(dir, name+".wasm")
	cmd := exec.Command(gobin, "build", "-buildmode=c-shared", "-o", out, "./actor/examples/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "build %s: %s", name, msg)
	return out
}

var (
	natsLine = regexp.MustCompile(`NATS:\s+(nats://\S+)`)
	dashLine = regexp.MustCompile(`Dashboard:\s+(http://\S+)`)
)

// TestUpEndToEnd drives the CLI as a newcomer would: sign the echo actor, `up`, start it, call
// it, stop it, and Ctrl-C.
func TestUpEndToEnd(t *testing.T) {
	useTempKeys(t)
	dir := t.TempDir()
	echo := buildExampleActor(t, dir, "echo")
	code, _, errOut := runCLI(t, context.Background(), "claims", "sign", echo, "--name", "echo", "--cap", "wasmcloud:httpserver")
	require.Equal(t, 0, code, errOut)
	signed := filepath.Join(dir, "echo_s.wasm")
	code, got := inspectJSON(t, signed)
	require.Equal(t, 0, code)
	actorID := got["subject"].(string)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var upOut, upErr latticetest.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"up", "--nats-port", "0", "--dashboard-addr", "",
			"--data-dir", filepath.Join(dir, "data"), "--allow-file-load=" + dir, "--log-level", "warn"}, &upOut, &upErr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			t.Error("trellis up did not stop within 2m")
		}
	})

	var url string
	require.Eventually(t, func() bool {
		select {
		case code := <-done:
			done <- code
			t.Fatalf("trellis up exited with %d: %s %s", code, upOut.String(), upErr.String())
		default:
		}
		if m := natsLine.FindStringSubmatch(upOut.String()); m != nil {
			url = m[1]
			return true
		}
		return false
	}, 60*time.Second, 50*time.Millisecond, "up never printed its NATS URL: %s %s", upOut.String(), upErr.String())
	// The banner is written line by line: the NATS line may be read before the rest.
	require.Eventually(t, func() bool { return strings.Contains(upOut.String(), "trellis ctl get hosts") },
		10*time.Second, 10*time.Millisecond, "up's banner names no next command: %s", upOut.String())

	ctl := func(args ...string) (int, string, string) {
		return runCLI(t, context.Background(), append(append([]string{"ctl"}, args...), "--nats-url", url)...)
	}
	require.Eventually(t, func() bool {
		code, _, _ := ctl("get", "hosts")
		return code == 0
	}, 30*time.Second, 100*time.Millisecond)

	code, out, errOut := ctl("get", "hosts", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var hosts struct {
		Hosts []struct {
			ID string `json:"id"`
		} `json:"hosts"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &hosts))
	require.Len(t, hosts.Hosts, 1)
	hostID := hosts.Hosts[0].ID

	// Generous: the host compiles the 2 MB Go module with wazero, which under -race on a busy
	// 2-core machine can take a minute or more.
	code, out, errOut = ctl("start", "actor", signed, "--timeout", "5m")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, actorID)
	require.Contains(t, out, hostID)

	// Only files under --allow-file-load: not a device, nor anything outside.
	code, _, errOut = ctl("start", "actor", "/dev/zero", "--host-id", hostID)
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "/dev/zero is not under a directory this host loads files from ("+dir+"; see --allow-file-load)")

	code, out, errOut = ctl("call", actorID, "HttpServer.HandleRequest",
		`{"method":"GET","path":"/","queryString":"","header":{},"body":""}`, "--rpc-timeout", "1m")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `{"body":[],"method":"GET","path":"/","query_string":""}`)
	require.Contains(t, out, "statusCode: 200")

	code, out, errOut = ctl("call", actorID, "HttpServer.HandleRequest",
		`{"method":"GET","path":"/","queryString":"","header":{},"body":"hello"}`, "--rpc-timeout", "1m")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `"body":[104,101,108,108,111]`)

	code, out, errOut = ctl("get", "inventory", hostID, "-o", "json")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, actorID)

	code, out, errOut = ctl("get", "claims")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, actorID)
	require.Contains(t, out, "wasmcloud:httpserver")
	code, out, errOut = ctl("get", "claims", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var claims struct{ Claims []map[string]string }
	require.NoError(t, json.Unmarshal([]byte(out), &claims), out)
	require.Len(t, claims.Claims, 1)
	require.Equal(t, actorID, claims.Claims[0]["sub"])
	code, out, errOut = ctl("link", "query")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "No links.\n", out)
	code, out, errOut = ctl("get", "links", "-o", "json")
	require.Equal(t, 0, code, errOut)
	require.JSONEq(t, `{"links":[]}`, out)

	code, out, errOut = ctl("stop", "actor", actorID)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "stopped")

	code, _, errOut = ctl("call", actorID, "HttpServer.HandleRequest", `{}`)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "nothing is running to answer")

	// A second host joins with `trellis host`, using the cluster key `up` saved.
	hostCtx, stopHost := context.WithCancel(context.Background())
	defer stopHost()
	var hostOut, hostErr latticetest.SyncBuffer
	hostDone := make(chan int, 1)
	go func() {
		hostDone <- run(hostCtx, []string{"host", "--nats-url", url, "--dashboard-addr", "", "--data-dir", filepath.Join(dir, "data2"), "--log-level", "warn"}, &hostOut, &hostErr)
	}()
	require.Eventually(t, func() bool {
		code, out, _ := ctl("get", "hosts", "-o", "json")
		return code == 0 && json.Unmarshal([]byte(out), &hosts) == nil && len(hosts.Hosts) == 2
	}, 60*time.Second, 100*time.Millisecond, "second host never answered: %s %s", hostOut.String(), hostErr.String())
	require.Contains(t, hostOut.String(), "default_cluster.nk")

	code, _, errOut = ctl("start", "actor", signed)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "2 hosts answered")
	require.Contains(t, errOut, "--host-id")

	stopHost()
	select {
	case code := <-hostDone:
		require.Equal(t, 0, code, hostErr.String())
	case <-time.After(2 * time.Minute):
		t.Fatal("trellis host did not return within 2m of cancel")
	}

	cancel()
	select {
	case code := <-done:
		done <- code
		require.Equal(t, 0, code, upErr.String())
	case <-time.After(2 * time.Minute):
		t.Fatal("trellis up did not return within 2m of cancel")
	}
	require.Contains(t, upOut.String(), "Host "+hostID+" stopped.")
}

func TestUpPortInUse(t *testing.T) {
	useTempKeys(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	code, _, errOut := runCLI(t, context.Background(), "up", "--nats-port", port, "--data-dir", t.TempDir())
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "--nats-port "+port+": cannot listen on 127.0.0.1:"+port)

	code, _, errOut = runCLI(t, context.Background(), "up", "--nats-port", "70000")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "--nats-port 70000: want 0-65535")

	code, _, errOut = runCLI(t, context.Background(), "up", "--nats-port", "0", "--dashboard-addr", "", "--label", "oops", "--data-dir", t.TempDir())
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `label "oops": want KEY=VALUE`)

	code, _, errOut = runCLI(t, context.Background(), "up", "--nats-port", "0", "--dashboard-addr", "127.0.0.1:"+port, "--data-dir", t.TempDir())
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "--dashboard-addr 127.0.0.1:"+port)

	code, _, errOut = runCLI(t, context.Background(), "up", "--nats-port", "0", "--dashboard-addr", "", "--label", "oops", "--data-dir", t.TempDir())
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `label "oops": want KEY=VALUE`)

	code, _, errOut = runCLI(t, context.Background(), "host", "--cluster-seed", "SCNOPE", "--data-dir", t.TempDir())
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "cluster seed")
}

// TestUpDashboard checks that `up` serves the web dashboard where it says it does.
func TestUpDashboard(t *testing.T) {
	useTempKeys(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var upOut, upErr latticetest.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"up", "--nats-port", "0", "--dashboard-addr", "127.0.0.1:0",
			"--data-dir", t.TempDir(), "--log-level", "warn"}, &upOut, &upErr)
	}()
	var url string
	require.Eventually(t, func() bool {
		select {
		case code := <-done:
			done <- code
			t.Fatalf("trellis up exited with %d: %s %s", code, upOut.String(), upErr.String())
		default:
		}
		if m := dashLine.FindStringSubmatch(upOut.String()); m != nil {
			url = m[1]
			return true
		}
		return false
	}, 60*time.Second, 50*time.Millisecond, "up never printed its dashboard URL: %s %s", upOut.String(), upErr.String())
	require.Eventually(t, func() bool {
		resp, err := http.Get(url + "/api/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 100*time.Millisecond, "dashboard at %s never ready", url)

	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code, upErr.String())
	case <-time.After(2 * time.Minute):
		t.Fatal("trellis up did not return within 2m of cancel")
	}
}
