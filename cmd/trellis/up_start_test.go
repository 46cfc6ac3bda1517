package main

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// startUp runs `trellis up` with args until the test ends (it must then exit 0) and returns the
// NATS URL its banner names (the first group of line: natsLine, or tlsNATSLine for tls://) and
// its standard output and error.
func startUp(t *testing.T, line *regexp.Regexp, args ...string) (string, *latticetest.SyncBuffer, *latticetest.SyncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var upOut, upErr latticetest.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"up"}, args...), &upOut, &upErr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			require.Equal(t, 0, code, upErr.String())
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
		if m := line.FindStringSubmatch(upOut.String()); m != nil {
			url = m[1]
			return true
		}
		return false
	}, 60*time.Second, 50*time.Millisecond, "up never printed its NATS URL: %s %s", upOut.String(), upErr.String())
	return url, &upOut, &upErr
}
