package applier

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/trellis-lattice/trellis/lattice"
	contract "github.com/trellis-lattice/trellis/lattice/contracts/applier"
	"github.com/trellis-lattice/trellis/providers"
)

// Provider is the Kubernetes applier provider. Make it with New; providers.Run (or Main) drives it.
type Provider struct {
	base Config

	mu    sync.RWMutex
	cfg   Config // base with the provider's configuration string applied, set by Init
	log   zerolog.Logger
	def   *kubeClient            // the provider's own credentials
	links map[string]*linkClient // by actor id
	svc   *serviceApplier

	stop context.CancelFunc
	done chan struct{} // closed when the Service applier returned
}

// linkClient is what a contract link resolved to: a client (the provider's, or the link's own
// kubeconfig) and the namespace of objects that name none.
type linkClient struct {
	kube      *kubeClient
	namespace string
}

// New returns a provider configured by cfg; the configuration string it is started with
// overrides cfg (see ParseConfigJSON).
func New(cfg Config) *Provider {
	return &Provider{base: cfg, log: zerolog.Nop(), links: map[string]*linkClient{}}
}

// Init reads the configuration, connects to Kubernetes and starts the Service applier. It fails
// when the configuration is invalid or no Kubernetes credentials can be found.
func (p *Provider) Init(ctx context.Context, h *providers.Host) error {
	hd := h.Data()
	cfg, err := ParseConfigJSON(p.base, hd.ConfigJSON)
	if err != nil {
		return err
	}
	a, err := loadAccess(cfg.Kubeconfig, cfg.KubeconfigFile, cfg.Namespace)
	if err != nil {
		return err
	}
	def, err := newKubeClient(a)
	if err != nil {
		return err
	}
	log := h.Logger().With().Str("component", "applier").Str("namespace", a.namespace).Logger()

	p.mu.Lock()
	defer p.mu.Unlock()
	p.cfg, p.def, p.log = cfg, def, log
	log.Info().Str("credentials", a.source).Str("server", a.rest.Host).Bool("services", !cfg.DisableServices).Msg("kubernetes applier ready")
	if cfg.DisableServices {
		return nil
	}
	svc, err := newServiceApplier(cfg, a, h.NATS(), hd.JSDomain, hd.LatticeRPCPrefix, log.With().Str("part", "services").Logger())
	if err != nil {
		return err
	}
	if svc.metrics, err = newMetrics(h.Metrics()); err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	p.svc, p.stop, p.done = svc, stop, make(chan struct{})
	go func() {
		defer close(p.done)
		if err := svc.Run(runCtx); err != nil {
			log.Error().Err(err).Msg("service applier stopped")
		}
	}()
	return nil
}

// PutLink resolves the link's Kubernetes access: its own kubeconfig (link value config_b64 or
// config_file) or the provider's, and its namespace (link value namespace, else the kubeconfig's,
// else the provider's). A link whose kubeconfig cannot be read is refused with the reason.
func (p *Provider) PutLink(_ context.Context, l lattice.LinkDefinition) error {
	p.mu.RLock()
	def, cfg := p.def, p.cfg
	p.mu.RUnlock()
	if def == nil {
		return errors.New("kubernetes applier: PutLink before Init")
	}
	lc, err := resolveLink(l, def, cfg)
	if err != nil {
		return fmt.Errorf("link of actor %s: %w", l.ActorID, err)
	}
	p.mu.Lock()
	p.links[l.ActorID] = lc
	p.mu.Unlock()
	return nil
}

func resolveLink(l lattice.LinkDefinition, def *kubeClient, cfg Config) (*linkClient, error) {
	ns, hasNS := l.Value("namespace")
	ns = strings.TrimSpace(ns)
	if hasNS {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return nil, fmt.Errorf("link value namespace %q: %s", ns, strings.Join(errs, "; "))
		}
	}
	b64, hasB64 := l.Value("config_b64")
	file, hasFile := l.Value("config_file")
	if hasB64 && hasFile {
		return nil, errors.New("link values config_b64 and config_file are both set: give one kubeconfig")
	}
	if !hasB64 && !hasFile {
		if ns == "" {
			ns = def.access.namespace
		}
		return &linkClient{kube: def, namespace: ns}, nil
	}
	var kubeconfig []byte
	if hasB64 {
		var err error
		if kubeconfig, err = decodeBase64(b64); err != nil {
			return nil, fmt.Errorf("link value config_b64: not base64: %w", err)
		}
		if len(kubeconfig) == 0 {
			return nil, errors.New("link value config_b64: empty")
		}
	}
	if hasFile && strings.TrimSpace(file) == "" {
		return nil, errors.New("link value config_file: empty")
	}
	a, err := loadAccess(kubeconfig, strings.TrimSpace(file), ns)
	if err != nil {
		return nil, err
	}
	kc, err := newKubeClient(a)
	if err != nil {
		return nil, err
	}
	return &linkClient{kube: kc, namespace: a.namespace}, nil
}

// DeleteLink forgets the actor's Kubernetes access.
func (p *Provider) DeleteLink(_ context.Context, l lattice.LinkDefinition) error {
	p.mu.Lock()
	delete(p.links, l.ActorID)
	p.mu.Unlock()
	return nil
}

// Handle serves KubernetesApplier.Apply and KubernetesApplier.Delete. What Kubernetes or the
// manifest gets wrong comes back as an OperationResponse with succeeded false and the reason; an
// argument that does not decode, or an unknown operation, is an invocation error.
func (p *Provider) Handle(ctx context.Context, inv providers.Invocation) ([]byte, error) {
	p.mu.RLock()
	lc, ok := p.links[inv.Origin.PublicKey]
	fieldManager, log := p.cfg.FieldManager, p.log
	p.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("kubernetes applier: actor %s: %w", inv.Origin.PublicKey, providers.ErrNotLinked)
	}
	var opErr error
	switch inv.Operation {
	case contract.OpApply:
		manifest, err := contract.DecodeManifest(inv.Msg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", contract.OpApply, err)
		}
		opErr = lc.kube.apply(ctx, manifest, fieldManager, lc.namespace)
	case contract.OpDelete:
		req, err := contract.DecodeDeleteRequest(inv.Msg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", contract.OpDelete, err)
		}
		opErr = lc.kube.delete(ctx, req, lc.namespace)
	default:
		return nil, fmt.Errorf("kubernetes applier: unknown operation %q: this provider serves %s and %s",
			inv.Operation, contract.OpApply, contract.OpDelete)
	}
	resp := contract.OperationResponse{Succeeded: opErr == nil}
	if opErr != nil {
		resp.Error = opErr.Error()
		log.Info().Err(opErr).Str("actor", inv.Origin.PublicKey).Str("operation", inv.Operation).Msg("operation failed")
	}
	return resp.Encode()
}

// Health is unhealthy while the Service applier's last reconciliation failed; its message names
// Services that cannot be made (a foreign Service in the way, a link with a bad port).
func (p *Provider) Health(context.Context) (bool, string) {
	p.mu.RLock()
	svc := p.svc
	p.mu.RUnlock()
	if svc == nil {
		return true, ""
	}
	return svc.health()
}

// Shutdown stops the Service applier.
func (p *Provider) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	stop, done := p.stop, p.done
	p.stop = nil
	p.mu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("kubernetes applier: service applier did not stop: %w", ctx.Err())
	}
}

var (
	_ providers.Provider      = (*Provider)(nil)
	_ providers.Initializer   = (*Provider)(nil)
	_ providers.HealthChecker = (*Provider)(nil)
	_ providers.Shutdowner    = (*Provider)(nil)
)
