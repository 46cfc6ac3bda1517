package main

import (
	"context"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

var tlsNATSLine = regexp.MustCompile(`NATS:\s+(tls://\S+)`)

// TestUpRequiresItsUserAndServesTLS: `trellis up` with a user, a password and a server
// certificate from a private CA refuses anonymous and password-less clients and clients without
// TLS; `ctl` with the user, the password and the CA works; the banner shows no password.
func TestUpRequiresItsUserAndServesTLS(t *testing.T) {
	useTempKeys(t)
	tf := latticetest.WriteTLS(t)
	dir := t.TempDir()
	url, upOut, upErr := startUp(t, tlsNATSLine, "--nats-port", "0", "--dashboard-addr", "", "--data-dir", filepath.Join(dir, "data"),
		"--log-level", "warn", "--nats-user", "alice", "--nats-password", "up-s3cret",
		"--nats-tls-cert", tf.ServerCert, "--nats-tls-key", tf.ServerKey, "--nats-tls-ca", tf.CA)
	require.NotContains(t, upOut.String()+upErr.String(), "up-s3cret")
	require.Contains(t, upOut.String(), "--nats-user alice --nats-password …")

	ctl := func(args ...string) (int, string, string) {
		return runCLI(t, context.Background(), append([]string{"ctl", "get", "hosts", "--nats-url", url, "--ctl-timeout", "5s"}, args...)...)
	}
	code, _, errOut := ctl()
	require.NotEqual(t, 0, code, "anonymous, without TLS")
	code, _, errOut = ctl("--nats-tls-ca", tf.CA)
	require.NotEqual(t, 0, code, "TLS without the password")
	require.Contains(t, errOut, "Authorization Violation")
	code, _, errOut = ctl("--nats-user", "alice", "--nats-password", "up-s3cret")
	require.NotEqual(t, 0, code, "the password without the CA of the server's certificate")
	require.Contains(t, errOut, "certificate")

	code, out, errOut := ctl("--nats-user", "alice", "--nats-password", "up-s3cret", "--nats-tls-ca", tf.CA, "-o", "json")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `"hosts"`)
	require.NotContains(t, out, `"hosts":[]`)
}

func TestUpRefusesHalfAnEmbeddedNATSSetup(t *testing.T) {
	useTempKeys(t)
	tf := latticetest.WriteTLS(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--nats-password", "x"}, "a password without a user"},
		{[]string{"--nats-user", "u"}, "a user without a password"},
		{[]string{"--nats-tls-cert", tf.ServerCert}, "needs its key"},
		{[]string{"--nats-tls-verify", "--nats-tls-cert", tf.ServerCert, "--nats-tls-key", tf.ServerKey}, "--nats-tls-verify"},
	} {
		code, _, errOut := runCLI(t, context.Background(), append([]string{"up", "--nats-port", "0", "--dashboard-addr", "", "--data-dir", t.TempDir()}, tc.args...)...)
		require.NotEqual(t, 0, code, tc.args)
		require.Contains(t, errOut, tc.want, tc.args)
	}
}
