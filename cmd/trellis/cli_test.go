package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
)

// runCLI runs the CLI with args and returns its exit code, stdout and stderr.
func runCLI(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// useTempKeys points the keystore at a fresh directory for the test.
func useTempKeys(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("TRELLIS_KEYS_DIR", dir)
	// Nor the contexts of the machine's user: a default context would change every ctl command.
	t.Setenv("TRELLIS_CONTEXT_DIR", filepath.Join(t.TempDir(), "contexts"))
	t.Setenv("WASH_CONTEXTS", filepath.Join(t.TempDir(), "wash-contexts"))
	t.Setenv("USER", "tester")
	return dir
}
