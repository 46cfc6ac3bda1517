package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/trellis-lattice/trellis/lattice"
)

// Provider states as the inventory reports them: the lattice's (a Trellis extension,
// docs/compat.md), named here too for the host's own code and its tests' callers.
const (
	ProviderStarting   = lattice.ProviderStarting
	ProviderRunning    = lattice.ProviderRunning
	ProviderRestarting = lattice.ProviderRestarting
	ProviderStopping   = lattice.ProviderStopping
)

type providerID struct{ key, linkName string }

// provider is one capability provider process supervised by this host.
type provider struct {
	id          providerID
	imageRef    string
	claims      *lattice.ProviderClaims
	instanceID  string
	annotations map[string]string
	config      string
	binPath     string
	builtin     *builtinState // a provider running in process (builtin_provider.go); nil for a process

	stop context.CancelFunc
	done chan struct{}

	mu       sync.Mutex
	state    string
	restarts int
	health   string                            // "", "healthy", "unhealthy"
	pushed   map[string]lattice.LinkDefinition // links the process has, by actor id
	// ready is set once the process answers on the lattice; links changed before that are
	// synced then, since a push to a process not yet subscribed is lost.
	ready bool
}

func (p *provider) contract() string { return p.claims.Provider.CapID }

func (p *provider) setState(s string) {
	p.mu.Lock()
	p.state = s
	p.mu.Unlock()
}

type providerTable struct {
	mu        sync.Mutex
	providers map[providerID]*provider
	starting  map[string]bool // image ref + link name of starts in progress
}

func newProviderTable() *providerTable {
	return &providerTable{providers: map[providerID]*provider{}, starting: map[string]bool{}}
}

func (t *providerTable) get(id providerID) (*provider, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.providers[id]
	return p, ok
}

func (t *providerTable) all() []*provider {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*provider, 0, len(t.providers))
	for _, p := range t.providers {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].id.key != out[j].id.key {
			return out[i].id.key < out[j].id.key
		}
		return out[i].id.linkName < out[j].id.linkName
	})
	return out
}

// launchProvider acks an lp command: refused at once when the same reference and link name
// already run here; otherwise the archive is read and the process started in the background.
func (h *Host) launchProvider(c lattice.StartProviderCommand) error {
	if strings.TrimSpace(c.ProviderRef) == "" {
		return errors.New("launch provider: provider_ref is empty")
	}
	link := orStr(c.LinkName, lattice.DefaultLinkName)
	if h.runsProvider(c.ProviderRef, link) {
		return fmt.Errorf("launch provider %s: already running on this host with link name %s", c.ProviderRef, link)
	}
	h.background(func(ctx context.Context) {
		if err := h.startProvider(ctx, c.ProviderRef, link, c.Configuration, c.Annotations); err != nil {
			h.publish(lattice.EventProviderStartFailed, lattice.ProviderStartFailedData{ProviderRef: c.ProviderRef, LinkName: link, Error: err.Error()})
		}
	})
	return nil
}

// runsProvider reports whether a provider from ref with that link name runs (or is starting) here.
func (h *Host) runsProvider(ref, linkName string) bool {
	linkName = orStr(linkName, lattice.DefaultLinkName)
	h.providers.mu.Lock()
	defer h.providers.mu.Unlock()
	if h.providers.starting[ref+"\x00"+linkName] {
		return true
	}
	for id, p := range h.providers.providers {
		if id.linkName == linkName && (p.imageRef == ref || id.key == ref) {
			return true
		}
	}
	return false
}

// loadArchive reads a provider archive from a reference: a file path when the host allows it,
// else an OCI reference (oci_host.go).
func (h *Host) loadArchive(ctx context.Context, ref string) (*lattice.ProviderArchive, error) {
	path, ok := filePath(ref)
	if !ok {
		par, err := h.pullArchive(ctx, ref)
		return par, h.refError(ref, err)
	}
	if !h.cfg.AllowFileLoad {
		return nil, fmt.Errorf("%s looks like a file path, but this host does not allow loading from files (--allow-file-load)", ref)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return lattice.ReadPAR(bytes.NewReader(b))
}

// startProvider reads and verifies the archive at ref, extracts the binary for this platform and
// starts supervising it.
func (h *Host) startProvider(ctx context.Context, ref, linkName, config string, annotations map[string]string) error {
	startKey := ref + "\x00" + linkName
	h.providers.mu.Lock()
	h.providers.starting[startKey] = true
	h.providers.mu.Unlock()
	defer func() {
		h.providers.mu.Lock()
		delete(h.providers.starting, startKey)
		h.providers.mu.Unlock()
	}()

	if IsBuiltinRef(ref) {
		return h.startBuiltin(ctx, ref, linkName, config, annotations)
	}
	par, err := h.loadArchive(ctx, ref)
	if err != nil {
		return err
	}
	bin, target, err := par.Target(goruntime.GOOS, goruntime.GOARCH)
	if err != nil {
		return fmt.Errorf("provider %s: %w", ref, err)
	}
	claims := par.Claims
	id := providerID{key: claims.Subject, linkName: linkName}
	dir := filepath.Join(h.cfg.DataDir, "providers", claims.Subject)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("provider %s: %w", ref, err)
	}
	binPath := filepath.Join(dir, claims.Provider.TargetHashes[target][:16]+"-"+target+".bin")
	if _, err := os.Stat(binPath); err != nil {
		tmp := binPath + "." + uuid.NewString()
		if err := os.WriteFile(tmp, bin, 0o755); err != nil {
			return fmt.Errorf("provider %s: extract %s: %w", ref, target, err)
		}
		if err := os.Rename(tmp, binPath); err != nil {
			return fmt.Errorf("provider %s: extract %s: %w", ref, target, err)
		}
	}

	p := &provider{
		id: id, imageRef: ref, claims: claims, instanceID: uuid.NewString(), annotations: nonNil(annotations),
		config: config, binPath: binPath, state: ProviderStarting, done: make(chan struct{}),
	}
	h.providers.mu.Lock()
	if _, dup := h.providers.providers[id]; dup {
		h.providers.mu.Unlock()
		return fmt.Errorf("provider %s with link name %s is already running on this host", id.key, linkName)
	}
	h.providers.providers[id] = p
	h.providers.mu.Unlock()

	if err := h.store.PutClaims(ctx, claims.Subject, claims.StringMap()); err != nil {
		h.log.Warn().Err(err).Str("provider", claims.Subject).Msg("store claims")
	}
	first := make(chan error, 1)
	runCtx, cancel := context.WithCancel(h.work) // the supervisor ends with Run
	p.stop = cancel
	go h.superviseProvider(runCtx, p, first)
	if err := <-first; err != nil {
		cancel()
		<-p.done
		h.providers.mu.Lock()
		delete(h.providers.providers, id)
		h.providers.mu.Unlock()
		return fmt.Errorf("provider %s: %w", ref, err)
	}
	return nil
}

// stopProviderCommand acks an sp command and stops the provider in the background.
func (h *Host) stopProviderCommand(c lattice.StopProviderCommand) error {
	id := providerID{key: c.ProviderRef, linkName: orStr(c.LinkName, lattice.DefaultLinkName)}
	p, ok := h.providers.get(id)
	if !ok {
		return fmt.Errorf("stop provider %s with link name %s: %w", id.key, id.linkName, errNotRunning)
	}
	h.background(func(ctx context.Context) { h.stopProvider(p, "stop requested") })
	return nil
}

// stopProvider asks the process to shut down, kills it after the grace period, and forgets it.
func (h *Host) stopProvider(p *provider, reason string) {
	p.mu.Lock()
	if p.state == ProviderStopping {
		p.mu.Unlock()
		<-p.done
		return
	}
	p.state = ProviderStopping
	p.mu.Unlock()
	p.stop()
	<-p.done
	h.providers.mu.Lock()
	delete(h.providers.providers, p.id)
	h.providers.mu.Unlock()
	h.publish(lattice.EventProviderStopped, lattice.ProviderStoppedData{
		PublicKey: p.id.key, LinkName: p.id.linkName, ContractID: p.contract(), InstanceID: p.instanceID,
		Annotations: p.annotations, Reason: reason,
	})
}

func (h *Host) providerInventory() []lattice.ProviderDescription {
	out := []lattice.ProviderDescription{}
	for _, p := range h.providers.all() {
		p.mu.Lock()
		state, restarts, health := p.state, p.restarts, p.health
		p.mu.Unlock()
		out = append(out, lattice.ProviderDescription{
			ID: p.id.key, ImageRef: p.imageRef, ContractID: p.contract(), LinkName: p.id.linkName,
			Name: p.claims.Provider.Name, InstanceID: p.instanceID, Annotations: p.annotations,
			Revision: p.claims.Revision(), State: state, Restarts: restarts, Health: health,
		})
	}
	return out
}

func (h *Host) heartbeatProviders() []lattice.HeartbeatProvider {
	out := []lattice.HeartbeatProvider{}
	for _, p := range h.providers.all() {
		out = append(out, lattice.HeartbeatProvider{PublicKey: p.id.key, LinkName: p.id.linkName, ContractID: p.contract()})
	}
	return out
}

// providerLinks returns the applied links for a provider and link name.
func (h *Host) providerLinks(id providerID) []lattice.LinkDefinition {
	var out []lattice.LinkDefinition
	h.links.mu.RLock()
	defer h.links.mu.RUnlock()
	for _, l := range h.links.byKey {
		if l.ProviderID == id.key && l.LinkName == id.linkName {
			out = append(out, l)
		}
	}
	sortLinks(out)
	return out
}

// linkChanged pushes an applied link put or delete to the local provider it names.
func (h *Host) linkChanged(l lattice.LinkDefinition, applied, deleted bool) {
	p, ok := h.providers.get(providerID{key: l.ProviderID, linkName: l.LinkName})
	if !ok || !applied {
		return
	}
	if p.builtin != nil {
		h.kickBuiltin(p)
		return
	}
	h.pushLink(p, l, deleted)
}
