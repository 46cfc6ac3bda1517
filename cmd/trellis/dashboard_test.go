package main

import (
	"context"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// TestUpDashboardToken: with --dashboard-token (here from TRELLIS_DASHBOARD_TOKEN), `up` prints
// the link that logs in, and the dashboard refuses its API without the token while its probes
// stay open; a token too short is refused before anything starts.
func TestUpDashboardToken(t *testing.T) {
	useTempKeys(t)
	code, _, errOut := runCLI(t, context.Background(), "up", "--nats-port", "0", "--dashboard-addr", "127.0.0.1:0",
		"--dashboard-token", "short", "--data-dir", t.TempDir())
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "--dashboard-token: 5 characters, want at least 16")

	const token = "0123456789abcdef0123456789abcdef"
	t.Setenv("TRELLIS_DASHBOARD_TOKEN", token)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var upOut, upErr latticetest.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"up", "--nats-port", "0", "--dashboard-addr", "127.0.0.1:0",
			"--data-dir", t.TempDir(), "--log-level", "warn"}, &upOut, &upErr)
	}()
	loginLine := regexp.MustCompile(`Dashboard:\s+(http://\S+)\s+\(token required; this link logs in: (http://\S+)\)`)
	var url, link string
	require.Eventually(t, func() bool {
		select {
		case code := <-done:
			done <- code
			t.Fatalf("trellis up exited with %d: %s %s", code, upOut.String(), upErr.String())
		default:
		}
		if m := loginLine.FindStringSubmatch(upOut.String()); m != nil {
			url, link = m[1], m[2]
			return true
		}
		return false
	}, 60*time.Second, 50*time.Millisecond, "up never printed its dashboard link: %s %s", upOut.String(), upErr.String())
	require.Equal(t, url+"/#token="+token, link)

	status := func(path, bearer string) int {
		req, err := http.NewRequest(http.MethodGet, url+path, nil)
		require.NoError(t, err)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	require.Eventually(t, func() bool { return status("/api/readyz", "") == http.StatusOK },
		30*time.Second, 100*time.Millisecond, "dashboard at %s never ready", url)
	require.Equal(t, http.StatusForbidden, status("/api/lattice", ""))
	require.Equal(t, http.StatusForbidden, status("/api/lattice", "0123456789abcdef0123456789abcdeX"))
	require.Equal(t, http.StatusOK, status("/api/lattice", token))

	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code, upErr.String())
	case <-time.After(2 * time.Minute):
		t.Fatal("trellis up did not return within 2m of cancel")
	}
}
