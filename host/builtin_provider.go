package host

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/trellis-lattice/trellis/lattice"
)

// Built-in providers run inside the host process. They are started, linked, listed and stopped
// like provider processes (lp, sp, link put/del, inventory, events), under a reference of the
// form wasmcloud+builtin://NAME, as wasmCloud 1.x names its built-ins. The host does not import
// them (DESIGN.md: only cmd wires components): cmd registers each implementation in
// Config.Builtins under its reference.
//
// A built-in's supervision, per started instance:
//
//	        New ok               stop (sp, host stop): Shutdown
//	starting ─────▶ running ──────────────────────────────────▶ (gone)
//	                  │ ▲ link put/del → sync: PutLink / DeleteLink, one at a time
//	                  └─┘ health every interval when it reports health
//
// Its key (V…) is derived from its reference alone, so it is the same on every host: one link
// put serves every host that runs the built-in. Its claims are made by the host, not signed by a
// vendor (the host signs them with a key derived from the built-ins' scheme, which anyone can
// derive); invocations it sends are signed with the cluster key like every host's.

// BuiltinScheme starts the reference of every built-in provider.
const BuiltinScheme = "wasmcloud+builtin://"

// BuiltinHTTPServer is the reference of the built-in wasmcloud:httpserver provider.
const BuiltinHTTPServer = BuiltinScheme + "http-server"

// BuiltinVendor is the vendor in the claims of built-in providers.
const BuiltinVendor = "Trellis"

// Builtin is a provider running inside the host. The host calls one method at a time.
type Builtin interface {
	// PutLink applies a link to the built-in (a link put again for the same actor replaces it);
	// an error refuses the link, which the host logs as a provider process's refusal is logged.
	PutLink(ctx context.Context, l lattice.LinkDefinition) error
	// DeleteLink withdraws a link the built-in had.
	DeleteLink(ctx context.Context, l lattice.LinkDefinition) error
	// Shutdown stops everything the built-in runs (listeners closed on return).
	Shutdown(ctx context.Context) error
}

// BuiltinHealth is implemented by a built-in that can tell its health; one that does not is
// reported healthy while it runs.
type BuiltinHealth interface {
	Health(ctx context.Context) (healthy bool, message string)
}

// BuiltinFactory makes a started instance of a built-in provider; bh is its handle on the host
// (calling actors, its key, link name, configuration, logger). ctx bounds the start only.
type BuiltinFactory func(ctx context.Context, bh *BuiltinHost) (Builtin, error)

// BuiltinProvider describes a built-in provider for Config.Builtins.
type BuiltinProvider struct {
	// Name is the name in its claims, e.g. "HTTP Server (built-in)".
	Name string
	// ContractID is the contract it implements, e.g. wasmcloud:httpserver.
	ContractID string
	// New starts an instance.
	New BuiltinFactory
}

// IsBuiltinRef reports whether ref names a built-in provider (wasmcloud+builtin://…).
func IsBuiltinRef(ref string) bool { return strings.HasPrefix(ref, BuiltinScheme) }

// BuiltinKey is the provider key (V…) of the built-in at ref, the same on every host: its
// ed25519 seed is the SHA-256 of the reference. The private key is no secret, and the host never
// signs with it.
func BuiltinKey(ref string) string { return derivedKey(lattice.PrefixService, ref).PublicKey() }

// builtinIssuer is the account (A…) that built-in providers' claims name as issuer.
func builtinIssuer() string { return builtinIssuerKey().PublicKey() }

func builtinIssuerKey() *lattice.KeyPair { return derivedKey(lattice.PrefixAccount, BuiltinScheme) }

// derivedKey makes the key of kind whose seed is the SHA-256 of name.
func derivedKey(kind lattice.KeyPrefix, name string) *lattice.KeyPair {
	seed := sha256.Sum256([]byte(name))
	der, err := x509.MarshalPKCS8PrivateKey(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		panic(fmt.Sprintf("derive %s key of %s: %v", kind, name, err)) // cannot happen for ed25519
	}
	kp, err := lattice.KeyPairFromPEM(kind, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil {
		panic(fmt.Sprintf("derive %s key of %s: %v", kind, name, err))
	}
	return kp
}

// validateBuiltins checks Config.Builtins.
func validateBuiltins(b map[string]BuiltinProvider) []error {
	var errs []error
	for _, ref := range slices.Sorted(maps.Keys(b)) {
		p := b[ref]
		switch {
		case !IsBuiltinRef(ref) || len(ref) == len(BuiltinScheme) || strings.ContainsAny(ref, " \t\r\n"):
			errs = append(errs, fmt.Errorf("builtin %q: want a reference %sNAME", ref, BuiltinScheme))
		case p.New == nil:
			errs = append(errs, fmt.Errorf("builtin %s: no factory", ref))
		case strings.TrimSpace(p.ContractID) == "":
			errs = append(errs, fmt.Errorf("builtin %s: empty contract id", ref))
		}
	}
	return errs
}

// builtinClaims are the claims a host makes for a built-in: issued by the built-ins' account,
// with the host's version as version and revision.
func (h *Host) builtinClaims(ref string, b BuiltinProvider) *lattice.ProviderClaims {
	c := &lattice.ProviderClaims{Provider: lattice.ProviderMetadata{
		Name: orStr(b.Name, ref), CapID: b.ContractID, Vendor: BuiltinVendor,
		Rev: versionRevision(h.cfg.Version), Ver: h.cfg.Version, TargetHashes: map[string]string{},
	}}
	c.Subject = BuiltinKey(ref)
	// Signed so that the CLAIMS_ entry verifies like every other; the key is derived from a public
	// name, so the signature says only that the entry is well formed, and nothing trusts it more.
	if _, err := lattice.SignJWT(c, builtinIssuerKey()); err != nil {
		panic(fmt.Sprintf("sign the claims of built-in %s: %v", ref, err)) // cannot happen: the key has its seed
	}
	return c
}

// versionRevision turns MAJOR.MINOR.PATCH into one number that grows with the version
// (0.1.0 → 100, 1.2.3 → 10203); 0 when the version is not of that form.
func versionRevision(v string) int {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) != 3 {
		return 0
	}
	rev := 0
	for _, p := range parts {
		p, _, _ = strings.Cut(p, "-")
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 99 {
			return 0
		}
		rev = rev*100 + n
	}
	return rev
}

// builtinState is what the host keeps of a running built-in, besides its provider entry. Only
// its run goroutine touches impl, applied and refused once it runs.
type builtinState struct {
	spec    BuiltinProvider
	impl    Builtin
	handle  *BuiltinHost
	kick    chan struct{}                     // a link of this provider changed
	applied map[string]lattice.LinkDefinition // by actor id
	refused map[string]string                 // actor id → link signature the built-in refused
}

// offersProvider reports whether this host could start ref: any provider archive, and only the
// built-ins it was given.
func (h *Host) offersProvider(ref string) bool {
	if !IsBuiltinRef(ref) {
		return true
	}
	_, ok := h.cfg.Builtins[ref]
	return ok
}

// startBuiltin starts the built-in at ref under a link name, applies the links it has, and
// publishes provider_started. Called by startProvider, which keeps duplicates out.
func (h *Host) startBuiltin(ctx context.Context, ref, linkName, config string, annotations map[string]string) error {
	spec, ok := h.cfg.Builtins[ref]
	if !ok {
		known := slices.Sorted(maps.Keys(h.cfg.Builtins))
		if len(known) == 0 {
			return fmt.Errorf("provider %s: this host runs no built-in providers", ref)
		}
		return fmt.Errorf("provider %s: no such built-in provider on this host (it has %s)", ref, strings.Join(known, ", "))
	}
	claims := h.builtinClaims(ref, spec)
	id := providerID{key: claims.Subject, linkName: linkName}
	b := &builtinState{spec: spec, kick: make(chan struct{}, 1), applied: map[string]lattice.LinkDefinition{}, refused: map[string]string{}}
	p := &provider{
		id: id, imageRef: ref, claims: claims, instanceID: uuid.NewString(), annotations: nonNil(annotations),
		config: config, state: ProviderStarting, done: make(chan struct{}), builtin: b,
	}
	b.handle = newBuiltinHost(h, p)
	runCtx, cancel := context.WithCancel(h.work) // the supervisor ends with Run
	p.stop = cancel
	if err := h.providers.add(p); err != nil {
		cancel()
		return err
	}

	impl, err := spec.New(ctx, b.handle)
	if err == nil && impl == nil {
		err = errors.New("its factory returned nothing")
	}
	if err != nil {
		cancel()
		close(p.done)
		h.providers.remove(p)
		return fmt.Errorf("provider %s: %w", ref, err)
	}
	b.impl = impl
	if err := h.store.PutClaims(ctx, claims.Token); err != nil {
		h.log.Warn().Err(err).Str("provider", claims.Subject).Msg("store claims")
	}
	h.syncBuiltin(p) // the links it has already; later changes reach its run goroutine
	p.mu.Lock()
	if p.state == ProviderStarting { // not stopped meanwhile
		p.state, p.health = ProviderRunning, "healthy"
	}
	p.mu.Unlock()
	h.publish(lattice.EventProviderStarted, lattice.ProviderStartedData{
		PublicKey: p.id.key, ImageRef: p.imageRef, LinkName: p.id.linkName, ContractID: p.contract(),
		InstanceID: p.instanceID, Annotations: p.annotations, Claims: p.claims.EventMap(),
	})
	h.publish(lattice.EventHealthCheckPassed, lattice.HealthCheckData{PublicKey: p.id.key, ContractID: p.contract(), LinkName: p.id.linkName})
	h.log.Info().Str("provider", p.id.key).Str("ref", ref).Str("link_name", linkName).Msg("built-in provider started")
	go h.runBuiltin(runCtx, p)
	return nil
}

// runBuiltin applies link changes and checks health until ctx ends, then shuts the built-in down.
func (h *Host) runBuiltin(ctx context.Context, p *provider) {
	defer close(p.done)
	b := p.builtin
	var health <-chan time.Time
	if _, ok := b.impl.(BuiltinHealth); ok {
		t := time.NewTicker(h.cfg.ProviderHealthInterval)
		defer t.Stop()
		health = t.C
	}
	for {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), h.cfg.ProviderShutdownDelay+5*time.Second)
			if err := b.impl.Shutdown(sctx); err != nil {
				h.log.Warn().Err(err).Str("provider", p.id.key).Msg("shut down built-in provider")
			}
			cancel()
			return
		case <-b.kick:
			h.syncBuiltin(p)
		case <-health:
			h.checkBuiltinHealth(ctx, p)
		}
	}
}

// kickBuiltin tells a built-in's run goroutine that its links changed.
func (h *Host) kickBuiltin(p *provider) {
	select {
	case p.builtin.kick <- struct{}{}:
	default: // a sync is due already; it reads the links then
	}
}

// syncBuiltin makes the built-in's links those the link cache applies for it: puts what is new
// or changed, deletes what is gone. A link the built-in refuses is logged and not tried again
// until it changes, as a provider process refuses a pushed link.
func (h *Host) syncBuiltin(p *provider) {
	b := p.builtin
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.RPCTimeout+5*time.Second)
	defer cancel()
	log := h.log.With().Str("provider", p.id.key).Str("link_name", p.id.linkName).Logger()
	current := map[string]lattice.LinkDefinition{}
	links, _ := h.links.forProvider(p.id)
	for _, l := range links {
		current[l.ActorID] = l
	}
	for _, actor := range slices.Sorted(maps.Keys(b.applied)) {
		if _, ok := current[actor]; ok {
			continue
		}
		l := b.applied[actor]
		delete(b.applied, actor)
		if err := b.impl.DeleteLink(ctx, l); err != nil {
			log.Warn().Err(err).Str("actor", actor).Msg("delete link")
		} else {
			log.Info().Str("actor", actor).Msg("link deleted")
		}
	}
	for actor := range b.refused {
		if _, ok := current[actor]; !ok {
			delete(b.refused, actor)
		}
	}
	for _, actor := range slices.Sorted(maps.Keys(current)) {
		l := current[actor]
		sig := l.ID + "\x00" + lattice.ValuesHash(l.Values)
		if old, ok := b.applied[actor]; ok && old.ID+"\x00"+lattice.ValuesHash(old.Values) == sig {
			continue
		}
		if b.refused[actor] == sig {
			continue
		}
		var err error
		if l.ContractID != b.spec.ContractID {
			err = fmt.Errorf("link of actor %s is for contract %q, provider %s implements %q", actor, l.ContractID, p.id.key, b.spec.ContractID)
		} else {
			err = b.impl.PutLink(ctx, l)
		}
		if err != nil {
			// A refused put may have replaced the link the built-in had: it has none now.
			delete(b.applied, actor)
			b.refused[actor] = sig
			log.Warn().Err(fmt.Errorf("put link of actor %s: %w", actor, err)).Str("actor", actor).Msg("link refused")
			continue
		}
		delete(b.refused, actor)
		b.applied[actor] = l
		log.Info().Str("actor", actor).Msg("link applied")
	}
}

// checkBuiltinHealth asks the built-in for its health and publishes health_check_passed/failed
// when the answer changes.
func (h *Host) checkBuiltinHealth(ctx context.Context, p *provider) {
	hc := p.builtin.impl.(BuiltinHealth)
	cctx, cancel := context.WithTimeout(ctx, h.cfg.RPCTimeout)
	healthy, msg := hc.Health(cctx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	p.mu.Lock()
	before := p.health
	p.health = map[bool]string{true: "healthy", false: "unhealthy"}[healthy]
	now := p.health
	p.mu.Unlock()
	if before == now {
		return
	}
	name := lattice.EventHealthCheckFailed
	if healthy {
		name = lattice.EventHealthCheckPassed
	} else {
		h.log.Warn().Str("provider", p.id.key).Str("reason", msg).Msg("built-in provider unhealthy")
	}
	h.publish(name, lattice.HealthCheckData{PublicKey: p.id.key, ContractID: p.contract(), LinkName: p.id.linkName})
}
