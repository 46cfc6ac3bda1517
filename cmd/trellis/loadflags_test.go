package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/lattice"
)

// hostConfigFrom parses args as `host` (up=false) or `up` would and returns the host config.
func hostConfigFrom(t *testing.T, up bool, args ...string) (host.Config, error) {
	t.Helper()
	var f hostFlags
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	f.register(fs, up)
	require.NoError(t, fs.Parse(args))
	return f.config(io.Discard)
}

func TestAllowFileLoadFlag(t *testing.T) {
	cwd, err := os.Getwd()
	require.NoError(t, err)
	data := filepath.Join(t.TempDir(), "data")
	a, b := t.TempDir(), t.TempDir()
	tests := []struct {
		name string
		up   bool
		args []string
		want []string
	}{
		{"host: none by default", false, nil, nil},
		{"host: bare flag is the working directory", false, []string{"--allow-file-load"}, []string{cwd}},
		{"host: true is the working directory", false, []string{"--allow-file-load=true"}, []string{cwd}},
		{"host: directories, comma-separated and repeated", false, []string{"--allow-file-load=" + a + "," + b, "--allow-file-load=."}, []string{a, b, cwd}},
		{"host: relative directories are made absolute", false, []string{"--allow-file-load=testdata"}, []string{filepath.Join(cwd, "testdata")}},
		{"up: the working directory and the data dir by default", true, nil, []string{cwd, data}},
		{"up: given directories replace the default", true, []string{"--allow-file-load=" + a}, []string{a}},
		{"up: false loads no file", true, []string{"--allow-file-load=false"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := hostConfigFrom(t, tt.up, append([]string{"--data-dir", data}, tt.args...)...)
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg.AllowFileLoad)
		})
	}
	require.DirExists(t, data, "up makes its data dir, to allow it")

	// A directory that does not exist is refused when the host is made.
	cfg, err := hostConfigFrom(t, false, "--allow-file-load="+filepath.Join(a, "nosuch"), "--data-dir", data)
	require.NoError(t, err)
	_, err = host.New(cfg)
	require.ErrorContains(t, err, "allow file load "+filepath.Join(a, "nosuch"))

	// The environment variable takes the same values (applyEnv sets the flag from it).
	var f hostFlags
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	f.register(fs, false)
	require.NoError(t, fs.Set("allow-file-load", a+","+b))
	require.Equal(t, []string{a, b}, f.allowFileLoad.dirs)
	require.Contains(t, fs.Lookup("allow-file-load").Usage, "TRELLIS_ALLOW_FILE_LOAD")
}

func TestMaxArtifactSizeAndProviderIssuersFlags(t *testing.T) {
	cfg, err := hostConfigFrom(t, false, "--data-dir", t.TempDir())
	require.NoError(t, err)
	require.Equal(t, int64(host.DefaultMaxArtifactSize), cfg.MaxArtifactSize)
	require.Empty(t, cfg.ProviderIssuers)

	kp, err := lattice.CreateKeyPair(lattice.PrefixAccount)
	require.NoError(t, err)
	acct := kp.PublicKey()
	cfg, err = hostConfigFrom(t, false, "--data-dir", t.TempDir(), "--max-artifact-size", "64MiB", "--provider-issuers", acct)
	require.NoError(t, err)
	require.Equal(t, int64(64<<20), cfg.MaxArtifactSize)
	require.Equal(t, []string{acct}, cfg.ProviderIssuers)
	require.NoError(t, cfg.Validate())

	cfg, err = hostConfigFrom(t, false, "--data-dir", t.TempDir(), "--provider-issuers", "MBAD")
	require.NoError(t, err)
	require.ErrorContains(t, cfg.Validate(), "provider issuer")

	for in, want := range map[string]int64{"1": 1, "512B": 512, "4KiB": 4 << 10, "4k": 4 << 10, "256MiB": 256 << 20, "1 GiB": 1 << 30, "2G": 2 << 30} {
		got, err := parseSize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "0", "-1", "1.5MiB", "MiB", "12TB", "99999999999GiB"} {
		_, err := parseSize(in)
		require.ErrorContains(t, err, "want a positive number of bytes", in)
	}
	require.Equal(t, "256MiB", formatSize(256<<20))
	require.Equal(t, "1000", formatSize(1000))
}
