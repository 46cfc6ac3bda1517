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
	health   string // "", "healthy", "unhealthy"
	lastErr  string // why the process last failed (exit, spawn error); "" when it never did

	// What a provider process has of its links (provider_links.go). The link cache is the record
	// of the links it should have; the provider keeps only what the cache cannot tell.
	linkMu sync.Mutex // held while the process is told of its links, so it hears in cache order
	// given is the links of the current process's HostData, kept until its first sync.
	given []lattice.LinkDefinition
	// ready is set by that sync, once the process answers on the lattice: a push to a process
	// not yet subscribed is lost, so changes before it are left to the sync.
	ready bool
	// synced is the link cache's revision at the sync: changes up to it reached the process.
	synced uint64
}

func (p *provider) contract() string { return p.claims.Provider.CapID }

func (p *provider) setLastError(s string) {
	p.mu.Lock()
	p.lastErr = s
	p.mu.Unlock()
}

func (p *provider) setState(s string) {
	p.mu.Lock()
	p.state = s
	p.mu.Unlock()
}

// providerTable is the providers supervised by this host, and the starts in progress. Only its
// methods take its lock.
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

// add records a started provider, unless one runs under its key and link name already.
func (t *providerTable) add(p *provider) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, dup := t.providers[p.id]; dup {
		return fmt.Errorf("provider %s with link name %s is already running on this host", p.id.key, p.id.linkName)
	}
	t.providers[p.id] = p
	return nil
}

// remove forgets provider p, unless another has taken its key and link name since.
func (t *providerTable) remove(p *provider) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.providers[p.id] == p {
		delete(t.providers, p.id)
	}
}

// begin marks a start from ref under linkName as in progress until the returned func is called.
func (t *providerTable) begin(ref, linkName string) (end func()) {
	k := ref + "\x00" + linkName
	t.mu.Lock()
	defer t.mu.Unlock()
	t.starting[k] = true
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		delete(t.starting, k)
	}
}

// runs reports whether a provider from ref (or with key ref) runs, or is starting, under linkName.
func (t *providerTable) runs(ref, linkName string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.starting[ref+"\x00"+linkName] {
		return true
	}
	for id, p := range t.providers {
		if id.linkName == linkName && (p.imageRef == ref || id.key == ref) {
			return true
		}
	}
	return false
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
	return h.providers.runs(ref, orStr(linkName, lattice.DefaultLinkName))
}

// loadArchive reads a provider archive from a reference: a file path under the directories the
// host loads files from (fileref.go), else an OCI reference (oci_host.go).
func (h *Host) loadArchive(ctx context.Context, ref string) (*lattice.ProviderArchive, error) {
	path, ok := h.filePath(ref)
	if !ok {
		par, err := h.pullArchive(ctx, ref)
		return par, h.refError(ref, err)
	}
	b, err := h.files.read(ref, path)
	if err != nil {
		return nil, err
	}
	return h.readArchive(b)
}

// readArchive reads and verifies a provider archive; with ProviderIssuers set, one signed by
// another account is refused as soon as its claims are read, before anything is extracted.
func (h *Host) readArchive(b []byte) (*lattice.ProviderArchive, error) {
	par, err := lattice.ReadPARWith(bytes.NewReader(b), lattice.PAROptions{Issuers: h.cfg.ProviderIssuers})
	if errors.Is(err, lattice.ErrUntrustedIssuer) {
		return nil, fmt.Errorf("%w (this host runs only archives of --provider-issuers)", err)
	}
	return par, err
}

// startProvider reads and verifies the archive at ref, extracts the binary for this platform and
// starts supervising it.
func (h *Host) startProvider(ctx context.Context, ref, linkName, config string, annotations map[string]string) error {
	defer h.providers.begin(ref, linkName)()

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
	if err := h.providers.add(p); err != nil {
		return err
	}

	if err := h.store.PutClaims(ctx, claims.Token); err != nil {
		h.log.Warn().Err(err).Str("provider", claims.Subject).Msg("store claims")
	}
	first := make(chan error, 1)
	runCtx, cancel := context.WithCancel(h.work) // the supervisor ends with Run
	p.stop = cancel
	go h.superviseProvider(runCtx, p, first)
	if err := <-first; err != nil {
		cancel()
		<-p.done
		h.providers.remove(p)
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
	h.providers.remove(p)
	h.publish(lattice.EventProviderStopped, lattice.ProviderStoppedData{
		PublicKey: p.id.key, LinkName: p.id.linkName, ContractID: p.contract(), InstanceID: p.instanceID,
		Annotations: p.annotations, Reason: reason,
	})
}

func (h *Host) providerInventory() []lattice.ProviderDescription {
	out := []lattice.ProviderDescription{}
	for _, p := range h.providers.all() {
		p.mu.Lock()
		state, restarts, health, lastErr := p.state, p.restarts, p.health, p.lastErr
		p.mu.Unlock()
		out = append(out, lattice.ProviderDescription{
			ID: p.id.key, ImageRef: p.imageRef, ContractID: p.contract(), LinkName: p.id.linkName,
			Name: p.claims.Provider.Name, InstanceID: p.instanceID, Annotations: p.annotations,
			Revision: p.claims.Revision(), State: state, Restarts: restarts, Health: health, LastError: lastErr,
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
