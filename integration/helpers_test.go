package integration_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

const (
	keyvalueContract  = "wasmcloud:keyvalue"
	messagingContract = "wasmcloud:messaging"
	echoBody          = `{"body":[],"method":"GET","path":"/","query_string":""}`
)

func echoActor(t testing.TB) latticetest.Actor {
	return latticetest.SignedActor(t, "./actor/examples/echo", lattice.ActorMetadata{
		Name: "echo", Caps: []string{httpserver.ContractID}}, lattice.SignOptions{})
}

func kvcounter(t testing.TB, caps ...string) latticetest.Actor {
	return latticetest.SignedActor(t, "./actor/examples/kvcounter", lattice.ActorMetadata{Name: "kvcounter", Caps: caps}, lattice.SignOptions{})
}

func httpProvider(t testing.TB) latticetest.Provider {
	return latticetest.ProviderArchive(t, "./cmd/provider-httpserver", lattice.ProviderMetadata{
		Name: "HTTP Server", CapID: httpserver.ContractID, Vendor: "Trellis"})
}

func kvProvider(t testing.TB) latticetest.Provider {
	return latticetest.ProviderArchive(t, "./cmd/provider-keyvalue", lattice.ProviderMetadata{
		Name: "Key-Value", CapID: keyvalueContract, Vendor: "Trellis"})
}

// get fetches url and returns status and body; a connection error is returned as is.
func get(url string) (int, string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitHTTP polls url until it answers, then returns status and body.
func waitHTTP(t testing.TB, url string) (int, string) {
	t.Helper()
	var status int
	var body string
	require.Eventually(t, func() bool {
		s, b, err := get(url)
		status, body = s, b
		return err == nil
	}, 15*time.Second, 10*time.Millisecond, "nothing answers on %s", url)
	return status, body
}

// waitClosed polls until nothing listens on the port any more.
func waitClosed(t testing.TB, port int) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, _, err := get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		return err != nil
	}, 15*time.Second, 10*time.Millisecond, "port %d still answers", port)
}

func addr(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

func url(port int, path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", port, path) }
