package providers

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

type nopProvider struct{}

func (nopProvider) PutLink(context.Context, lattice.LinkDefinition) error    { return nil }
func (nopProvider) DeleteLink(context.Context, lattice.LinkDefinition) error { return nil }
func (nopProvider) Handle(context.Context, Invocation) ([]byte, error)       { return nil, nil }

func validHostData(t *testing.T, url string) lattice.HostData {
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	seed, err := cluster.Seed()
	require.NoError(t, err)
	return lattice.HostData{
		HostID:           latticetest.Key(t, lattice.PrefixServer).PublicKey(),
		LatticeRPCPrefix: "main",
		LatticeRPCURL:    url,
		ProviderKey:      latticetest.Key(t, lattice.PrefixService).PublicKey(),
		ClusterIssuers:   []string{cluster.PublicKey()},
		InvocationSeed:   seed,
		EnvValues:        map[string]string{},
	}
}

func encodeLine(t *testing.T, hd lattice.HostData) string {
	line, err := hd.Encode()
	require.NoError(t, err)
	return string(line)
}

func TestMainMalformedHostData(t *testing.T) {
	good := validHostData(t, "127.0.0.1:4222")
	noKey := good
	noKey.ProviderKey = ""
	raw, _ := json.Marshal(noKey)
	tests := []struct {
		name, stdin, want string
	}{
		{"empty stdin", "", "stdin closed before the host data line"},
		{"blank line", "\n", "host data: empty"},
		{"not base64", "%%%not base64%%%\n", "host data: not base64"},
		{"base64 of garbage", base64.StdEncoding.EncodeToString([]byte("{nope")) + "\n", "host data: malformed JSON"},
		{"missing provider key", base64.StdEncoding.EncodeToString(raw) + "\n", "host data provider_key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(context.Background(), strings.NewReader(tc.stdin), &stderr, nopProvider{}, DefaultConfig("test:nop"))
			require.Equal(t, ExitHostData, code)
			require.Contains(t, stderr.String(), "test:nop provider: ")
			require.Contains(t, stderr.String(), tc.want)
		})
	}
}

func TestReadHostData(t *testing.T) {
	hd := validHostData(t, "127.0.0.1:4222")
	hd.ConfigJSON = strings.Repeat("x", 200_000) // longer than bufio's default buffer
	line := encodeLine(t, hd)

	got, err := ReadHostData(strings.NewReader(line + "ignored second line\n"))
	require.NoError(t, err)
	require.Equal(t, hd.ConfigJSON, got.ConfigJSON)
	require.Equal(t, lattice.DefaultLinkName, got.LinkName, "defaults filled by Validate")

	got, err = ReadHostData(strings.NewReader(strings.TrimSuffix(line, "\n")))
	require.NoError(t, err, "a line without newline at EOF")
	require.Equal(t, hd.ProviderKey, got.ProviderKey)
}

func TestMainRunsUntilShutdown(t *testing.T) {
	ns := latticetest.RunNATS(t)
	nc := latticetest.Connect(t, ns)
	hd := validHostData(t, fmt.Sprintf("127.0.0.1:%d", latticetest.Port(t, ns)))
	hd.StructuredLogging = true
	hd.LogLevel = "DEBUG"

	var stderr latticetest.SyncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(context.Background(), strings.NewReader(encodeLine(t, hd)), &stderr, nopProvider{}, DefaultConfig("test:nop"))
	}()
	subj := lattice.NewSubjects(hd.LatticeRPCPrefix)
	require.Eventually(t, func() bool {
		_, err := nc.Request(subj.ProviderHealth(hd.ProviderKey, "default"), nil, 200*time.Millisecond)
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	msg, err := nc.Request(subj.ProviderShutdown(hd.ProviderKey, "default"), fmt.Appendf(nil, `{"host_id":%q}`, hd.HostID), 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, lattice.ShutdownAck, string(msg.Data))
	select {
	case c := <-code:
		require.Equal(t, ExitOK, c)
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after shutdown")
	}
	// Structured logging: every line is a JSON object.
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	require.NotEmpty(t, lines)
	for _, l := range lines {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), "log line %q", l)
	}
	require.Contains(t, stderr.String(), `"message":"provider serving"`)
}

func TestMainConnectFailure(t *testing.T) {
	hd := validHostData(t, "127.0.0.1:1")
	var stderr bytes.Buffer
	code := run(context.Background(), strings.NewReader(encodeLine(t, hd)), &stderr, nopProvider{}, DefaultConfig("test:nop"))
	require.Equal(t, ExitError, code)
	require.Contains(t, stderr.String(), "connect to nats nats://127.0.0.1:1")
}

func TestParseLevel(t *testing.T) {
	for in, known := range map[string]bool{"": true, "INFO": true, "debug": true, "Trace": true, "WARNING": true, "critical": true, "loud": false} {
		_, ok := parseLevel(in)
		require.Equal(t, known, ok, in)
	}
}

func TestConnectLogsOnlyLostConnections(t *testing.T) {
	ns := latticetest.RunNATS(t)
	hd := validHostData(t, ns.ClientURL())
	connectWithLogs := func() (*nats.Conn, *latticetest.SyncBuffer, chan struct{}) {
		var logs latticetest.SyncBuffer
		closed := make(chan struct{})
		nc, err := connect(hd, Config{ContractID: "wasmcloud:testing"}, zerolog.New(&logs), closed)
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		return nc, &logs, closed
	}

	// An orderly close runs the disconnect callback too, before the closed one.
	nc, logs, closed := connectWithLogs()
	nc.Close()
	<-closed
	require.NotContains(t, logs.String(), "connection lost")

	// The server going away is a lost connection.
	_, logs, _ = connectWithLogs()
	ns.Shutdown()
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "lattice connection lost; reconnecting") },
		5*time.Second, 10*time.Millisecond)
}
