package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	contract "github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/providers"
)

// binary builds this command once per test.
func binary(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "provider-httpserver")
	cmd := exec.Command("go", "build", "-o", out, ".")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	return out
}

func TestMalformedHostData(t *testing.T) {
	bin := binary(t)
	for stdin, want := range map[string]string{
		"":                  "stdin closed before the host data line",
		"not base64 !!\n":   "host data: not base64",
		"e30=\n":            "host data host_id", // {} is valid JSON missing every field
		"{\"host_id\":1}\n": "host data: malformed JSON",
	} {
		var stderr bytes.Buffer
		cmd := exec.Command(bin)
		cmd.Stdin = strings.NewReader(stdin)
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "stdin %q: %v", stdin, err)
		require.Equal(t, providers.ExitHostData, exit.ExitCode(), "stdin %q", stdin)
		require.Contains(t, stderr.String(), "httpserver provider: ", "stdin %q", stdin)
		require.Contains(t, stderr.String(), want, "stdin %q", stdin)
	}
}

// TestProcess runs the binary as a host does: HostData on stdin (with a link), an HTTP request
// reaching a fake actor on the lattice, then the shutdown request and a clean exit.
func TestProcess(t *testing.T) {
	bin := binary(t)
	ns := latticetest.RunNATS(t)
	nc := latticetest.Connect(t, ns)
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	seed, _ := cluster.Seed()
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	provider := latticetest.Key(t, lattice.PrefixService).PublicKey()
	port := freePort(t)
	hd := lattice.HostData{
		HostID:              latticetest.Key(t, lattice.PrefixServer).PublicKey(),
		LatticeRPCPrefix:    "proc",
		LinkName:            "default",
		LatticeRPCURL:       fmt.Sprintf("127.0.0.1:%d", latticetest.Port(t, ns)),
		InstanceID:          uuid.NewString(),
		ProviderKey:         provider,
		DefaultRPCTimeoutMS: 2000,
		ClusterIssuers:      []string{cluster.PublicKey()},
		InvocationSeed:      seed,
		StructuredLogging:   true,
		LinkDefinitions: []lattice.LinkDefinition{{
			ActorID: actor, ProviderID: provider, LinkName: "default", ContractID: contract.ContractID,
			Values: map[string]string{"PORT": fmt.Sprint(port)},
		}},
	}
	subj := lattice.NewSubjects("proc")
	sub, err := nc.Subscribe(subj.Actor(actor), func(m *nats.Msg) {
		inv, _ := lattice.DecodeInvocation(m.Data)
		req, _ := contract.DecodeRequest(inv.Msg)
		body, _ := json.Marshal(map[string]any{"method": req.Method, "path": req.Path, "query_string": req.QueryString, "body": []int{}})
		resp := lattice.InvocationResponse{InvocationID: inv.ID}
		resp.Msg, _ = contract.HttpResponse{StatusCode: 200, Body: body}.Encode()
		data, _ := resp.Encode()
		_ = m.Respond(data)
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })

	line, err := hd.Encode()
	require.NoError(t, err)
	var stderr latticetest.SyncBuffer
	cmd := exec.Command(bin)
	cmd.Stdin = bytes.NewReader(line)
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	var body []byte
	require.Eventually(t, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ = io.ReadAll(resp.Body)
		return resp.StatusCode == 200
	}, 10*time.Second, 50*time.Millisecond, "stderr:\n%s", &stderr)
	require.Equal(t, `{"body":[],"method":"GET","path":"/","query_string":""}`, string(body))

	msg, err := nc.Request(subj.ProviderShutdown(provider, "default"), fmt.Appendf(nil, `{"host_id":%q}`, hd.HostID), 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, lattice.ShutdownAck, string(msg.Data))
	select {
	case err := <-exited:
		require.NoError(t, err, "exit status; stderr:\n%s", &stderr)
		exited <- nil
	case <-time.After(5 * time.Second):
		t.Fatalf("the provider did not exit within 5s of the shutdown request; stderr:\n%s", &stderr)
	}
	require.Contains(t, stderr.String(), `"message":"listening"`)
}

func TestSIGTERMExitsCleanly(t *testing.T) {
	bin := binary(t)
	ns := latticetest.RunNATS(t)
	nc := latticetest.Connect(t, ns)
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	seed, _ := cluster.Seed()
	hd := lattice.HostData{
		HostID:           latticetest.Key(t, lattice.PrefixServer).PublicKey(),
		LatticeRPCPrefix: "term",
		LatticeRPCURL:    fmt.Sprintf("127.0.0.1:%d", latticetest.Port(t, ns)),
		ProviderKey:      latticetest.Key(t, lattice.PrefixService).PublicKey(),
		ClusterIssuers:   []string{cluster.PublicKey()},
		InvocationSeed:   seed,
	}
	line, err := hd.Encode()
	require.NoError(t, err)
	var stderr latticetest.SyncBuffer
	cmd := exec.Command(bin)
	cmd.Stdin = bytes.NewReader(line)
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	subj := lattice.NewSubjects("term")
	require.Eventually(t, func() bool {
		_, err := nc.Request(subj.ProviderHealth(hd.ProviderKey, "default"), nil, 200*time.Millisecond)
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "stderr:\n%s", &stderr)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		require.NoError(t, err, "stderr:\n%s", &stderr)
	case <-time.After(5 * time.Second):
		t.Fatal("no exit within 5s of SIGTERM")
	}
}
