package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/trellis-lattice/trellis/host"
)

// limitFlags are the host's resource limits (host.Config, docs/cli.md "Limits").
type limitFlags struct {
	memoryPages     uint32
	invocationBytes sizeFlag
	controlBytes    sizeFlag
	linkValueBytes  sizeFlag
	linkBytes       sizeFlag
	links           int
	actorIdle       idleTimeout
}

func (f *limitFlags) register(fs *pflag.FlagSet) {
	def := host.DefaultConfig()
	fs.Uint32Var(&f.memoryPages, "max-actor-memory-pages", def.MaxActorMemoryPages,
		"most memory an actor instance may have, in 64 KiB wasm pages (4096 = 256 MiB); an actor may ask for less with the start annotation "+host.MemoryPagesAnnotation)
	withEnv(fs, "max-actor-memory-pages")
	f.invocationBytes = sizeFlag(def.MaxInvocationBytes)
	fs.Var(&f.invocationBytes, "max-invocation-bytes", "largest invocation payload (inline or chunked) this host's actors accept (bytes, or with KiB, MiB, GiB)")
	withEnv(fs, "max-invocation-bytes")
	f.controlBytes = sizeFlag(def.MaxControlBytes)
	fs.Var(&f.controlBytes, "max-control-bytes", "largest control request (ctl command or query) this host reads")
	withEnv(fs, "max-control-bytes")
	f.linkValueBytes = sizeFlag(def.MaxLinkValueBytes)
	fs.Var(&f.linkValueBytes, "max-link-value-bytes", "largest link value (key and value) a link put may carry")
	withEnv(fs, "max-link-value-bytes")
	f.linkBytes = sizeFlag(def.MaxLinkBytes)
	fs.Var(&f.linkBytes, "max-link-bytes", "largest sum of a link's values (keys and values) a link put may carry")
	withEnv(fs, "max-link-bytes")
	fs.IntVar(&f.links, "max-links", def.MaxLinks, "most links in the lattice: a link put that would pass it is refused")
	withEnv(fs, "max-links")
	f.actorIdle = idleTimeout(def.ActorIdleTimeout)
	fs.Var(&f.actorIdle, "actor-idle-timeout", "how long an actor's wasm instance may wait idle before it is closed, down to the actor's min instances "+
		"(an actor left alone sits at zero instances and its next call makes one); 0 or never keeps idle instances")
	withEnv(fs, "actor-idle-timeout")
}

func (f *limitFlags) apply(cfg *host.Config) {
	cfg.MaxActorMemoryPages = f.memoryPages
	cfg.MaxInvocationBytes = int64(f.invocationBytes)
	cfg.MaxControlBytes = int(f.controlBytes)
	cfg.MaxLinkValueBytes = int(f.linkValueBytes)
	cfg.MaxLinkBytes = int(f.linkBytes)
	cfg.MaxLinks = f.links
	cfg.ActorIdleTimeout = time.Duration(f.actorIdle)
}

// idleTimeout is a duration flag where 0 or "never" means no timeout.
type idleTimeout time.Duration

func (d *idleTimeout) String() string {
	if *d == 0 {
		return "never"
	}
	return time.Duration(*d).String()
}

func (d *idleTimeout) Type() string { return "duration" }

func (d *idleTimeout) Set(s string) error {
	s = strings.TrimSpace(s)
	if s == "0" || strings.EqualFold(s, "never") {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is neither a duration (5m, 30s) nor 0 or never", s)
	}
	if v < 0 {
		return fmt.Errorf("%q: must not be negative (0 or never keeps idle instances)", s)
	}
	*d = idleTimeout(v)
	return nil
}

// memoryAnnotation is the start annotation of `ctl start actor --max-memory-pages`; nil for 0.
func memoryAnnotation(pages uint32) map[string]string {
	if pages == 0 {
		return nil
	}
	return map[string]string{host.MemoryPagesAnnotation: strconv.FormatUint(uint64(pages), 10)}
}
