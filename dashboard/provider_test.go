package dashboard_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/dashboard"
	"github.com/trellis-lattice/trellis/lattice"
)

// httpserverArchive is the httpserver provider, built from cmd/provider-httpserver.
func httpserverArchive(t *testing.T) provider {
	t.Helper()
	return providerArchive(t, "./cmd/provider-httpserver", "httpserver", "wasmcloud:httpserver")
}

func TestProviderAndLinkThroughTheAPI(t *testing.T) {
	e := newEnv(t)
	h := e.startHost()
	echo := echoActor(t)
	par := httpserverArchive(t)

	status, res := e.send(http.MethodPost, "/api/actors", map[string]any{"ref": echo.Path})
	require.Equal(t, http.StatusOK, status, "%+v", res)

	status, res = e.send(http.MethodPost, "/api/providers", map[string]any{"ref": par.Path})
	require.Equal(t, http.StatusOK, status, "%+v", res)
	require.Equal(t, par.ID, res.ID)
	require.Equal(t, h.ID(), res.HostID)

	v := e.eventually(func(v dashboard.View) bool {
		p, ok := findProvider(v, par.ID)
		return ok && p.Status == dashboard.ProviderHealthy
	}, "the provider shows, then turns healthy")
	p, _ := findProvider(v, par.ID)
	require.Equal(t, "httpserver", p.Name)
	require.Equal(t, "wasmcloud:httpserver", p.ContractID)
	require.Equal(t, "default", p.LinkName)
	require.Equal(t, h.ID(), p.HostID)
	require.Equal(t, par.Path, p.ImageRef)

	// The same provider and link name again: the host refuses, the auction finds no host.
	status, res = e.send(http.MethodPost, "/api/providers", map[string]any{"ref": par.Path, "host_id": h.ID()})
	require.Equal(t, http.StatusConflict, status, "%+v", res)
	require.Contains(t, res.Error, "already running")
	require.Equal(t, "ref", res.Field)
	status, res = e.send(http.MethodPost, "/api/providers", map[string]any{"ref": par.Path})
	require.Equal(t, http.StatusConflict, status, "%+v", res)
	require.Contains(t, res.Error, "no host answered the auction")

	// The contract comes from the provider's claims when the request leaves it out.
	port := freePort(t)
	status, res = e.send(http.MethodPost, "/api/links", map[string]any{
		"actor_id": echo.ID, "provider_id": par.ID, "values": fmt.Sprintf("ADDRESS=127.0.0.1:%d", port),
	})
	require.Equal(t, http.StatusOK, status, "%+v", res)
	require.Equal(t, lattice.LinkID(echo.ID, "wasmcloud:httpserver", "default"), res.ID)

	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	require.Eventually(t, func() bool {
		code, body, err := httpGet(url)
		return err == nil && code == http.StatusOK && body == echoAnswer
	}, 60*time.Second, 50*time.Millisecond, "GET %s answers the echo", url)

	status, res = e.send(http.MethodPost, "/api/providers/stop", map[string]any{"provider_id": par.ID})
	require.Equal(t, http.StatusOK, status, "%+v", res)
	e.eventually(func(v dashboard.View) bool { _, ok := findProvider(v, par.ID); return !ok }, "the provider is gone")
	require.Eventually(t, func() bool { _, _, err := httpGet(url); return err != nil }, 10*time.Second, 50*time.Millisecond,
		"nothing listens on %s once the provider stopped", url)
}
