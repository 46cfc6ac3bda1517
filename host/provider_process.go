package host

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/trellis-lattice/trellis/lattice"
)

// Provider supervision, per provider process:
//
//	          spawn ok                    exit (not asked)
//	starting ─────────▶ running ─────────────────────────▶ restarting ──(backoff)──▶ spawn
//	                      │  ▲ health checks: passed/failed events on change      │
//	                      │  └─────────────────────────────────────────────────────┘
//	                      │ stop (sp, host stop): shutdown request, then kill after the delay
//	                      ▼
//	                  stopping ──▶ (gone)
//
// Each spawn gets the links applied at that moment in its HostData; after the first passing
// health check the host pushes whatever changed since, so a link put during start-up is not lost.
//
// The first spawn counts as started only once the process answers on the lattice (or the health
// delay passes with it still running): a process that exits before, for example because it
// cannot connect to NATS, fails the start with the last lines of its output, so `ctl start
// provider` reports the provider's own error. A later spawn that dies is restarted with backoff,
// and the inventory shows why it died (last_error).

const (
	restartBackoffMin = 250 * time.Millisecond
	restartBackoffMax = 10 * time.Second
	// stableAfter is how long a process must run before its restart backoff is reset.
	stableAfter = 30 * time.Second
)

func (h *Host) superviseProvider(ctx context.Context, p *provider, first chan<- error) {
	defer close(p.done)
	backoff := restartBackoffMin
	starting := true
	for {
		links := h.spawnLinks(p)
		cmd, exited, out, err := h.spawnProvider(p, links)
		if err != nil {
			if starting {
				first <- err
				return
			}
			p.setLastError(err.Error())
			h.log.Error().Err(err).Str("provider", p.id.key).Msg("restart provider")
		} else {
			since := time.Now()
			hctx, hcancel := context.WithCancel(ctx)
			answered := make(chan struct{})
			go func() {
				ok := h.awaitProvider(hctx, p)
				close(answered)
				if ok {
					h.syncLinks(p)
				}
				h.checkHealth(hctx, p)
			}()
			if starting {
				select {
				case <-answered:
				case err := <-exited:
					hcancel()
					first <- fmt.Errorf("process exited before it answered on the lattice (%v)%s", err, out.tail())
					return
				case <-ctx.Done():
					hcancel()
					h.shutdownProcess(p, cmd, exited)
					first <- ctx.Err()
					return
				}
			}
			p.mu.Lock()
			p.state = ProviderRunning
			p.health = ""
			p.mu.Unlock()
			if starting {
				first <- nil
				starting = false
			}
			h.publish(lattice.EventProviderStarted, lattice.ProviderStartedData{
				PublicKey: p.id.key, ImageRef: p.imageRef, LinkName: p.id.linkName, ContractID: p.contract(),
				InstanceID: p.instanceID, Annotations: p.annotations, Claims: p.claims.EventMap(),
			})
			select {
			case <-ctx.Done():
				hcancel()
				h.shutdownProcess(p, cmd, exited)
				return
			case err := <-exited:
				hcancel()
				if ctx.Err() != nil {
					return
				}
				p.mu.Lock()
				p.restarts++
				p.state = ProviderRestarting
				p.mu.Unlock()
				reason := fmt.Sprintf("exited unexpectedly (%v); restarting%s", err, out.tail())
				p.setLastError(reason)
				h.log.Warn().Str("provider", p.id.key).Str("reason", reason).Msg("provider died")
				h.publish(lattice.EventProviderStopped, lattice.ProviderStoppedData{
					PublicKey: p.id.key, LinkName: p.id.linkName, ContractID: p.contract(), InstanceID: p.instanceID,
					Annotations: p.annotations, Reason: reason,
				})
				if time.Since(since) > stableAfter {
					backoff = restartBackoffMin
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, restartBackoffMax)
	}
}

// spawnProvider starts the process with its HostData on stdin and the allowed part of the host's
// environment, and records its pid in the data dir (provider_pids.go) until it exits.
func (h *Host) spawnProvider(p *provider, links []lattice.LinkDefinition) (*exec.Cmd, <-chan error, *lineLog, error) {
	hd, err := h.hostData(p, links)
	if err != nil {
		return nil, nil, nil, err
	}
	line, err := hd.Encode()
	if err != nil {
		return nil, nil, nil, err
	}
	cmd := exec.Command(p.binPath)
	cmd.Env = providerEnv(os.Environ())
	cmd.Stdin = bytes.NewReader(line)
	out := &lineLog{log: h.log.With().Str("provider", p.id.key).Str("link_name", p.id.linkName).Logger()}
	cmd.Stdout = out
	cmd.Stderr = out
	dieWithHost(cmd)
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, fmt.Errorf("start %s: %w", p.binPath, err)
	}
	pidFile := h.recordProvider(cmd.Process.Pid)
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		h.forgetProvider(pidFile)
		exited <- err
	}()
	return cmd, exited, out, nil
}

// hostData is what the provider process is told about its lattice: its host's NATS connection
// and the provider cluster key (never the cluster seed, lattice.ProviderClusterKey).
func (h *Host) hostData(p *provider, links []lattice.LinkDefinition) (*lattice.HostData, error) {
	seed, err := h.providerKey.Seed()
	if err != nil {
		return nil, err
	}
	hd := &lattice.HostData{
		HostID: h.ID(), LatticeRPCPrefix: h.cfg.Lattice, LinkName: p.id.linkName,
		EnvValues: map[string]string{}, InstanceID: p.instanceID,
		ProviderKey: p.id.key, LinkDefinitions: nonNilLinks(links), ConfigJSON: p.config,
		DefaultRPCTimeoutMS: uint64(h.cfg.RPCTimeout.Milliseconds()), ClusterIssuers: h.issuers,
		InvocationSeed: seed, JSDomain: h.cfg.JSDomain, LogLevel: "info",
		// JSON lines, so that lineLog keeps each entry's level and fields in the host's log.
		StructuredLogging: true,
	}
	if err := hd.SetNATS(h.conn); err != nil {
		return nil, err
	}
	return hd, nil
}

// providerEnvNames are the variables of the host's environment a provider process gets; a name
// ending in "*" is a prefix. Everything else (registry passwords, seeds, NATS credentials, cloud
// tokens) stays with the host: a provider's lattice connection comes in its HostData.
var providerEnvNames = []string{
	"PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "LANG", "LANGUAGE", "LC_*", "TZ",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", // the applier's in-cluster config
	"TRELLIS_PROVIDER_CPUPROFILE", "OTEL_*", "RUST_LOG", "RUST_BACKTRACE",
}

// providerEnv keeps the entries of environ that providerEnvNames allow.
func providerEnv(environ []string) []string {
	out := []string{}
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		for _, allowed := range providerEnvNames {
			if name == allowed || (strings.HasSuffix(allowed, "*") && strings.HasPrefix(name, allowed[:len(allowed)-1])) {
				out = append(out, kv)
				break
			}
		}
	}
	return out
}

func nonNilLinks(ls []lattice.LinkDefinition) []lattice.LinkDefinition {
	if ls == nil {
		return []lattice.LinkDefinition{}
	}
	return ls
}

// shutdownProcess asks the provider to shut down, then kills it if it has not exited in time.
func (h *Host) shutdownProcess(p *provider, cmd *exec.Cmd, exited <-chan error) {
	body, _ := json.Marshal(lattice.ShutdownRequest{HostID: h.ID()})
	if _, err := h.nc.Request(h.subj.ProviderShutdown(p.id.key, p.id.linkName), body, h.cfg.ProviderShutdownDelay); err != nil {
		h.log.Debug().Err(err).Str("provider", p.id.key).Msg("shutdown request")
	}
	select {
	case <-exited:
	case <-time.After(h.cfg.ProviderShutdownDelay):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// checkHealth asks the provider for its health after the delay, then every interval, and
// publishes health_check_passed/failed when the answer changes.
func (h *Host) checkHealth(ctx context.Context, p *provider) {
	wait := h.cfg.ProviderHealthDelay
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = h.cfg.ProviderHealthInterval
		healthy := false
		req, _ := lattice.Marshal(lattice.HealthRequest{})
		msg, err := h.nc.Request(h.subj.ProviderHealth(p.id.key, p.id.linkName), req, h.cfg.RPCTimeout)
		if err == nil {
			var r lattice.HealthReply
			if lattice.Unmarshal(msg.Data, &r) == nil {
				healthy = r.Healthy
			}
		}
		if ctx.Err() != nil {
			return
		}
		p.mu.Lock()
		before := p.health
		p.health = map[bool]string{true: lattice.ProviderHealthy, false: lattice.ProviderUnhealthy}[healthy]
		now := p.health
		p.mu.Unlock()
		if before != now {
			name := lattice.EventHealthCheckFailed
			if healthy {
				name = lattice.EventHealthCheckPassed
			}
			h.publish(name, lattice.HealthCheckData{PublicKey: p.id.key, ContractID: p.contract(), LinkName: p.id.linkName})
		}
	}
}

// awaitProvider polls the provider's health subject until the process answers (it has then
// subscribed to its link subjects) or the first health check is due. It publishes no events.
func (h *Host) awaitProvider(ctx context.Context, p *provider) bool {
	deadline := time.Now().Add(h.cfg.ProviderHealthDelay)
	req, _ := lattice.Marshal(lattice.HealthRequest{})
	for wait := 10 * time.Millisecond; ; wait = min(wait*2, 250*time.Millisecond) {
		if _, err := h.nc.Request(h.subj.ProviderHealth(p.id.key, p.id.linkName), req, wait); err == nil {
			return true
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
	}
}

// lineLog logs what a provider process writes, one log entry per line. A JSON line (a provider
// told structured_logging) keeps its level, message and fields; any other line is logged as is,
// at info. It keeps the last lines, for the error of a process that exits.
type lineLog struct {
	log  zerolog.Logger
	mu   sync.Mutex
	buf  []byte
	last []string // the last tailLines lines, oldest first
}

// tailLines is how many of a process's last output lines an error about its exit quotes.
const tailLines = 5

// tail is ": " and the last lines the process wrote, joined by " | ", or "" when it wrote none.
func (l *lineLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	last := l.last
	if s := strings.TrimSpace(string(l.buf)); s != "" {
		last = append(append([]string(nil), last...), s)
	}
	if len(last) > tailLines {
		last = last[len(last)-tailLines:]
	}
	if len(last) == 0 {
		return ""
	}
	return ": " + strings.Join(last, " | ")
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimSpace(string(l.buf[:i])); line != "" {
			line = l.entry(line)
			if len(line) > 1024 {
				line = line[:1024] + "…"
			}
			l.last = append(l.last, line)
			if len(l.last) > tailLines {
				l.last = l.last[1:]
			}
		}
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64<<10 { // a very long line without a newline
		l.log.Info().Msg(string(l.buf))
		l.buf = l.buf[:0]
	}
	return len(p), nil
}

// entry logs one line of the provider's output and returns it as an error would quote it (a
// JSON entry as its message and error).
func (l *lineLog) entry(line string) string {
	var fields map[string]any
	if line[0] != '{' || json.Unmarshal([]byte(line), &fields) != nil {
		l.log.Info().Msg(line)
		return line
	}
	level := zerolog.InfoLevel
	if s, ok := fields["level"].(string); ok {
		switch lv := strings.ToLower(s); lv {
		case "warning":
			level = zerolog.WarnLevel
		case "critical":
			level = zerolog.ErrorLevel
		default:
			if parsed, err := zerolog.ParseLevel(lv); err == nil && parsed != zerolog.NoLevel {
				level = parsed
			}
		}
	}
	msg, _ := fields["message"].(string)
	if inner, ok := fields["fields"].(map[string]any); ok && msg == "" { // tracing's JSON layout
		msg, _ = inner["message"].(string)
		delete(inner, "message")
	}
	quoted := msg
	if e, ok := fields["error"].(string); ok && e != "" {
		quoted += ": " + e
	}
	// The host's logger already says which component, provider and link name this is.
	for _, k := range []string{"level", "message", "time", "timestamp", "component", "provider", "link_name"} {
		delete(fields, k)
	}
	l.log.WithLevel(level).Fields(fields).Msg(msg)
	if quoted == "" {
		return line
	}
	return quoted
}
