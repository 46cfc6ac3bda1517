package main

import (
	"io"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
)

func TestLimitFlags(t *testing.T) {
	cfg, err := hostConfigFrom(t, false)
	require.NoError(t, err)
	def := host.DefaultConfig()
	require.Equal(t, def.MaxActorMemoryPages, cfg.MaxActorMemoryPages)
	require.Equal(t, def.MaxInvocationBytes, cfg.MaxInvocationBytes)
	require.Equal(t, def.MaxControlBytes, cfg.MaxControlBytes)
	require.Equal(t, def.MaxLinks, cfg.MaxLinks)

	cfg, err = hostConfigFrom(t, false, "--max-actor-memory-pages=512", "--max-invocation-bytes=4MiB",
		"--max-control-bytes=64KiB", "--max-link-value-bytes=1000", "--max-link-bytes=2k", "--max-links=7")
	require.NoError(t, err)
	require.EqualValues(t, 512, cfg.MaxActorMemoryPages)
	require.EqualValues(t, 4<<20, cfg.MaxInvocationBytes)
	require.Equal(t, 64<<10, cfg.MaxControlBytes)
	require.Equal(t, 1000, cfg.MaxLinkValueBytes)
	require.Equal(t, 2048, cfg.MaxLinkBytes)
	require.Equal(t, 7, cfg.MaxLinks)
	require.NoError(t, cfg.Validate())

	cfg, err = hostConfigFrom(t, false, "--max-actor-memory-pages=65537")
	require.NoError(t, err)
	require.ErrorContains(t, cfg.Validate(), "max actor memory pages 65537: want 1 to 65536")
}

func TestMemoryAnnotation(t *testing.T) {
	require.Nil(t, memoryAnnotation(0))
	require.Equal(t, map[string]string{host.MemoryPagesAnnotation: "128"}, memoryAnnotation(128))
}

func TestActorIdleTimeoutFlag(t *testing.T) {
	cfg, err := hostConfigFrom(t, false)
	require.NoError(t, err)
	require.Equal(t, host.DefaultActorIdleTimeout, cfg.ActorIdleTimeout)
	for arg, want := range map[string]time.Duration{"never": 0, "Never": 0, "0": 0, "90s": 90 * time.Second, "1h": time.Hour} {
		cfg, err := hostConfigFrom(t, false, "--actor-idle-timeout="+arg)
		require.NoError(t, err)
		require.Equal(t, want, cfg.ActorIdleTimeout, arg)
		require.NoError(t, cfg.Validate())
	}
	for arg, want := range map[string]string{
		"-1s":  `"-1s": must not be negative (0 or never keeps idle instances)`,
		"soon": `"soon" is neither a duration (5m, 30s) nor 0 or never`,
	} {
		var f hostFlags
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		fs.SetOutput(io.Discard)
		f.register(fs, false)
		require.ErrorContains(t, fs.Parse([]string{"--actor-idle-timeout=" + arg}), want)
	}
}
