package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	kv "github.com/trellis-lattice/trellis/lattice/contracts/keyvalue"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/providers"
)

// TestBinary builds the provider, launches it as a host does (HostData on stdin), links an
// actor, increments a counter through the lattice, and stops it with a shutdown request.
func TestBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "provider-keyvalue")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	t.Run("bad host data", func(t *testing.T) {
		cmd := exec.Command(bin)
		cmd.Stdin = strings.NewReader("not base64 at all\n")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "exit status: %v", err)
		require.Equal(t, providers.ExitHostData, exit.ExitCode())
		require.Contains(t, string(out), "host data")
	})

	t.Run("serves and shuts down", func(t *testing.T) {
		ns := latticetest.RunNATS(t)
		nc := latticetest.Connect(t, ns)
		cluster := latticetest.Key(t, lattice.PrefixCluster)
		seed, err := cluster.Seed()
		require.NoError(t, err)
		subj := lattice.NewSubjects("cmdtest")
		hd := lattice.HostData{
			HostID:              latticetest.Key(t, lattice.PrefixServer).PublicKey(),
			LatticeRPCPrefix:    subj.Lattice,
			LinkName:            lattice.DefaultLinkName,
			LatticeRPCURL:       fmt.Sprintf("127.0.0.1:%d", latticetest.Port(t, ns)),
			EnvValues:           map[string]string{},
			InstanceID:          uuid.NewString(),
			ProviderKey:         latticetest.Key(t, lattice.PrefixService).PublicKey(),
			DefaultRPCTimeoutMS: 2000,
			ClusterIssuers:      []string{cluster.PublicKey()},
			InvocationSeed:      seed,
		}
		line, err := hd.Encode()
		require.NoError(t, err)

		var logs lockedBuffer
		cmd := exec.Command(bin)
		cmd.Stdin = bytes.NewReader(line)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		require.NoError(t, cmd.Start())
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-exited
		})

		health := subj.ProviderHealth(hd.ProviderKey, hd.LinkName)
		require.Eventually(t, func() bool {
			_, err := nc.Request(health, nil, 200*time.Millisecond)
			return err == nil
		}, 10*time.Second, 20*time.Millisecond, "no health answer; logs:\n%s", &logs)

		actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
		l := lattice.LinkDefinition{ActorID: actor, ProviderID: hd.ProviderKey, LinkName: hd.LinkName, ContractID: kv.ContractID}
		data, err := lattice.Marshal(l)
		require.NoError(t, err)
		m, err := nc.Request(subj.ProviderLinkPut(hd.ProviderKey, hd.LinkName), data, 5*time.Second)
		require.NoError(t, err)
		var ack providers.LinkAck
		require.NoError(t, json.Unmarshal(m.Data, &ack))
		require.True(t, ack.Accepted, ack.Error)

		req, err := kv.IncrementRequest{Key: "counter", Value: 2}.Encode()
		require.NoError(t, err)
		target := lattice.Entity{PublicKey: hd.ProviderKey, ContractID: kv.ContractID, LinkName: hd.LinkName}
		for want := int32(2); want <= 4; want += 2 {
			inv, err := lattice.NewInvocation(cluster, hd.HostID, lattice.Entity{PublicKey: actor}, target, kv.OpIncrement, req)
			require.NoError(t, err)
			data, err := inv.Encode()
			require.NoError(t, err)
			m, err := nc.Request(subj.Provider(hd.ProviderKey, hd.LinkName), data, 5*time.Second)
			require.NoError(t, err)
			resp, err := lattice.DecodeInvocationResponse(m.Data)
			require.NoError(t, err)
			require.Empty(t, resp.Error)
			var got int32
			require.NoError(t, kv.Unmarshal(resp.Msg, &got))
			require.Equal(t, want, got)
		}

		m, err = nc.Request(subj.ProviderShutdown(hd.ProviderKey, hd.LinkName), fmt.Appendf(nil, `{"host_id":%q}`, hd.HostID), 5*time.Second)
		require.NoError(t, err)
		require.Equal(t, providers.ShutdownAck, string(m.Data))
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			require.NoError(t, err, "exit status; logs:\n%s", &logs)
		case <-time.After(10 * time.Second):
			t.Fatalf("the provider did not exit within 10s of the shutdown request; logs:\n%s", &logs)
		}
	})
}

// lockedBuffer collects the process's output, safe to read while it writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
