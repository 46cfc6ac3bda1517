package httpserver_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/providers/httpserver"
)

// dialServer opens a raw TCP connection to a listener's base URL.
func dialServer(t *testing.T, base string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// trickle writes data one byte a second until the connection fails or stop is closed.
func trickle(c net.Conn, data string, stop <-chan struct{}) {
	for i := 0; i < len(data); i++ {
		if _, err := c.Write([]byte{data[i]}); err != nil {
			return
		}
		select {
		case <-stop:
			return
		case <-time.After(time.Second):
		}
	}
}

// A client that sends its body one byte a second is cut off at read_body_timeout_ms with a 408,
// and the listener keeps serving.
func TestSlowBodyIsCutOffAtTheReadBodyTimeout(t *testing.T) {
	r := newRig(t)
	const timeout = 1500 * time.Millisecond
	_, base := r.serve(t, map[string]string{"address": "127.0.0.1:0", httpserver.KeyReadBodyTimeout: "1500"}, echo)

	c := dialServer(t, base)
	start := time.Now()
	_, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n")
	require.NoError(t, err)
	stop := make(chan struct{})
	defer close(stop)
	go trickle(c, strings.Repeat("x", 100), stop)

	require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	elapsed := time.Since(start)
	require.Equal(t, http.StatusRequestTimeout, resp.StatusCode, string(body))
	require.Contains(t, string(body), "read_body_timeout_ms")
	require.GreaterOrEqual(t, elapsed, timeout)
	require.Less(t, elapsed, timeout+5*time.Second, "cut off long after the timeout")

	resp2, _ := get(t, base+"/after")
	require.Equal(t, http.StatusOK, resp2.StatusCode)
}

// Headers sent one byte a second: the connection is closed at read_header_timeout_ms.
func TestSlowHeadersAreCutOffAtTheReadHeaderTimeout(t *testing.T) {
	r := newRig(t)
	const timeout = time.Second
	_, base := r.serve(t, map[string]string{"address": "127.0.0.1:0", "config_json": `{"read_header_timeout_ms":1000}`}, echo)

	c := dialServer(t, base)
	start := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go trickle(c, "GET / HTTP/1.1\r\nHost: test\r\nX-Slow: "+strings.Repeat("y", 60)+"\r\n\r\n", stop)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
	_, err := io.ReadAll(c) // the server answers nothing useful and closes
	// Closed by the server: a clean EOF, or a reset when it closed with the trickled bytes
	// still unread; not the client's own deadline passing.
	if err != nil {
		require.ErrorIs(t, err, syscall.ECONNRESET, "the server closed the connection, the client's deadline did not pass")
	}
	elapsed := time.Since(start)
	require.GreaterOrEqual(t, elapsed, timeout)
	require.Less(t, elapsed, timeout+5*time.Second)
}

// A kept-alive connection left idle is closed at idle_timeout_ms.
func TestIdleConnectionIsClosedAtTheIdleTimeout(t *testing.T) {
	r := newRig(t)
	const timeout = time.Second
	_, base := r.serve(t, map[string]string{"address": "127.0.0.1:0", httpserver.KeyIdleTimeout: "1000"}, echo)

	c := dialServer(t, base)
	_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: test\r\n\r\n")
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, _ = io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	idle := time.Now()
	_, err = br.ReadByte()
	require.ErrorIs(t, err, io.EOF, "the server closes the idle connection")
	elapsed := time.Since(idle)
	require.GreaterOrEqual(t, elapsed, timeout-100*time.Millisecond)
	require.Less(t, elapsed, timeout+5*time.Second)
}

func TestTimeoutSettings(t *testing.T) {
	s, err := httpserver.ParseSettings(map[string]string{})
	require.NoError(t, err)
	require.Equal(t, httpserver.DefaultReadHeaderTimeout, s.ReadHeaderTimeout)
	require.Equal(t, httpserver.DefaultReadBodyTimeout, s.ReadBodyTimeout)
	require.Equal(t, httpserver.DefaultIdleTimeout, s.IdleTimeout)

	// A link value of its own wins over the config document's field.
	s, err = httpserver.ParseSettings(map[string]string{
		"config_json":     `{"read_header_timeout_ms":2000,"read_body_timeout_ms":3000,"idle_timeout_ms":4000}`,
		"IDLE_TIMEOUT_MS": "86400000",
	})
	require.NoError(t, err)
	require.Equal(t, 2*time.Second, s.ReadHeaderTimeout)
	require.Equal(t, 3*time.Second, s.ReadBodyTimeout)
	require.Equal(t, 24*time.Hour, s.IdleTimeout)

	for _, values := range []map[string]string{
		{httpserver.KeyIdleTimeout: "86400001"}, // one millisecond over a day
		{httpserver.KeyReadBodyTimeout: "0"},
		{httpserver.KeyReadHeaderTimeout: "soon"},
		{"config_json": `{"read_body_timeout_ms":86400001}`},
	} {
		_, err := httpserver.ParseSettings(values)
		require.ErrorIs(t, err, httpserver.ErrSettings, "%v", values)
		require.ErrorContains(t, err, "_timeout_ms")
	}
}
