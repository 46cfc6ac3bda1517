package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

const dirManifest = `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: %s
  annotations:
    version: v1
spec:
  components:
    - name: echo
      type: actor
      properties:
        image: 127.0.0.1:5000/echo:0.1
`

func writeManifest(t *testing.T, path, name string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, dirManifest, name), 0o644))
}

// TestReadAppDirsConfigMapLayout: a ConfigMap volume holds its keys as symbolic links into a
// hidden timestamped directory; the manifests are found through the links, the hidden entries and
// other files are passed over.
func TestReadAppDirsConfigMapLayout(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "..2026_12_07_10_00_00.000")
	require.NoError(t, os.Mkdir(data, 0o755))
	writeManifest(t, filepath.Join(data, "echo.yaml"), "echo")
	writeManifest(t, filepath.Join(data, "other.json.txt"), "ignored")
	require.NoError(t, os.Symlink(filepath.Base(data), filepath.Join(dir, "..data")))
	require.NoError(t, os.Symlink(filepath.Join("..data", "echo.yaml"), filepath.Join(dir, "echo.yaml")))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o755)) // a directory, whatever its name

	got, err := readAppDirs([]string{dir})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "echo", got[0].Metadata.Name)
}

func TestReadAppDirsRefuses(t *testing.T) {
	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, "x.yaml"), []byte("apiVersion: v1\nkind: Pod\n"), 0o644))
	_, err := readAppDirs([]string{bad})
	require.ErrorContains(t, err, filepath.Join(bad, "x.yaml"))
	require.ErrorContains(t, err, "apiVersion")

	a, b := t.TempDir(), t.TempDir()
	writeManifest(t, filepath.Join(a, "one.yaml"), "same")
	writeManifest(t, filepath.Join(b, "two.yml"), "same")
	_, err = readAppDirs([]string{a, b})
	require.ErrorContains(t, err, "app same is also in "+filepath.Join(a, "one.yaml"))

	_, err = readAppDirs([]string{filepath.Join(a, "missing")})
	require.ErrorContains(t, err, "--app-dir")
}
