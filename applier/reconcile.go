package applier

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
)

// Backoff of a failed reconciliation or link watch.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// serviceApplier is the level-triggered Service reconciler of one lattice and namespace.
type serviceApplier struct {
	log          zerolog.Logger
	nc           *nats.Conn
	jsDomain     string
	lattice      string
	namespace    string
	selector     map[string]string
	resync       time.Duration
	fieldManager string
	managed      map[string]string // the labels that mark a Service as ours
	services     corev1client.ServiceInterface

	kick chan struct{} // capacity 1: a reconciliation is due

	mu          sync.Mutex
	links       map[string]lattice.LinkDefinition // HTTP-server links by KV key
	linksSynced bool                              // the first replay of the bucket is complete
	lastErr     error                             // of the last reconciliation
	linkErr     error                             // why the watch of the links ended, until it is back
	reported    map[string]string                 // Service name → problem logged last
	informer    cache.SharedIndexInformer
	owner       *metav1.OwnerReference // put on every Service: see serviceAccountOwner
	metrics     *metrics               // set before Run; nil counts nothing (metrics.go)
}

func newServiceApplier(cfg Config, a *access, nc *nats.Conn, jsDomain, latticeName string, log zerolog.Logger) (*serviceApplier, error) {
	core, err := corev1client.NewForConfig(a.rest)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client (%s): %w", a.source, err)
	}
	return &serviceApplier{
		log:          log,
		nc:           nc,
		jsDomain:     jsDomain,
		lattice:      latticeName,
		namespace:    a.namespace,
		selector:     cfg.Selector,
		resync:       cfg.Resync,
		fieldManager: cfg.FieldManager,
		managed:      map[string]string{LabelManagedBy: ManagedBy, LabelLattice: labelValue(latticeName)},
		services:     core.Services(a.namespace),
		owner:        serviceAccountOwner(a.rest, a.namespace),
		kick:         make(chan struct{}, 1),
		links:        map[string]lattice.LinkDefinition{},
		reported:     map[string]string{},
	}, nil
}

// managedSelector selects the Services this applier manages.
func (s *serviceApplier) managedSelector() string {
	return labels.SelectorFromSet(s.managed).String()
}

func (s *serviceApplier) trigger() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run watches the links and the namespace's Services and converges until ctx ends; it returns nil
// then.
func (s *serviceApplier) Run(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	// Every Service of the namespace, not only ours: a Service in the way of a link is seen, and
	// its deletion triggers a pass that creates the link's own.
	lw := &cache.ListWatch{
		ListFunc: func(o metav1.ListOptions) (runtime.Object, error) {
			return s.services.List(ctx, o)
		},
		WatchFunc: func(o metav1.ListOptions) (watch.Interface, error) {
			return s.services.Watch(ctx, o)
		},
	}
	inf := cache.NewSharedIndexInformer(lw, &corev1.Service{}, 0, cache.Indexers{})
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { s.trigger() },
		UpdateFunc: func(any, any) { s.trigger() },
		DeleteFunc: func(any) { s.trigger() },
	}); err != nil {
		return fmt.Errorf("service applier: %w", err)
	}
	if err := inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
		s.setErr(fmt.Errorf("watch Services in %s: %w", s.namespace, err))
		s.log.Warn().Err(err).Msg("watch of Services failed; retrying")
	}); err != nil {
		return fmt.Errorf("service applier: %w", err)
	}
	s.mu.Lock()
	s.informer = inf
	s.mu.Unlock()

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // before wg.Wait
	wg.Add(2)
	go func() { defer wg.Done(); inf.Run(ctx.Done()) }()
	go func() { defer wg.Done(); s.watchLinks(ctx) }()

	s.log.Info().Str("namespace", s.namespace).Str("managed", s.managedSelector()).Msg("service applier starting")
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return nil
	}

	resync := time.NewTicker(s.resync)
	defer resync.Stop()
	var retry <-chan time.Time
	backoff := minBackoff
	for {
		live := false
		select {
		case <-ctx.Done():
			return nil
		case <-s.kick:
		case <-resync.C:
			live = true
		case <-retry:
			live = true
		}
		err := s.reconcile(ctx, live)
		if ctx.Err() != nil {
			return nil
		}
		s.setErr(err)
		s.metrics.reconciled(err)
		if err != nil {
			s.log.Warn().Err(err).Dur("retry_in", backoff).Msg("reconcile Services")
			retry = time.After(backoff)
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		retry, backoff = nil, minBackoff
	}
}

func (s *serviceApplier) setErr(err error) {
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
}

// health is unhealthy while the last reconciliation failed.
func (s *serviceApplier) health() (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.linkErr != nil {
		return false, "service applier: " + s.linkErr.Error()
	}
	if s.lastErr != nil {
		return false, "service applier: " + s.lastErr.Error()
	}
	if !s.linksSynced {
		return true, "service applier: reading links"
	}
	msgs := make([]string, 0, len(s.reported))
	for _, name := range sortedNames(s.reported) {
		msgs = append(msgs, s.reported[name])
	}
	return true, strings.Join(msgs, "; ")
}

// watchLinks keeps s.links equal to the HTTP-server links of the bucket: a replay of every key,
// then live changes; after a watch ends with an error it opens the bucket again and, at the end of
// the new replay, drops what the replay did not mention.
func (s *serviceApplier) watchLinks(ctx context.Context) {
	backoff := minBackoff
	for ctx.Err() == nil {
		err := s.watchOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		s.linkErr = fmt.Errorf("watch links of lattice %s: %w", s.lattice, err)
		s.mu.Unlock()
		s.log.Warn().Err(err).Dur("retry_in", backoff).Msg("watch of lattice links ended")
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (s *serviceApplier) watchOnce(ctx context.Context) error {
	js, err := lattice.NewJetStream(s.nc, s.jsDomain)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	store, err := lattice.OpenStore(ctx, js, s.lattice, 1)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	replaying := true
	err = store.Watch(ctx, func(c lattice.StoreChange) {
		if c.Op == lattice.OpSynced {
			s.mu.Lock()
			for key := range s.links {
				if !seen[key] {
					delete(s.links, key)
				}
			}
			s.linksSynced = true
			s.linkErr = nil
			n := len(s.links)
			s.mu.Unlock()
			replaying = false
			s.log.Info().Int("http_links", n).Str("bucket", store.Bucket()).Msg("links read; watching")
			s.trigger()
			return
		}
		if c.Kind != lattice.KindLink {
			return
		}
		s.mu.Lock()
		switch {
		case c.Op == lattice.OpDelete:
			delete(s.links, c.Key)
		case c.DecodeErr != nil:
			// A value no host would apply is no link.
			delete(s.links, c.Key)
			s.log.Warn().Err(c.DecodeErr).Msg("malformed link in the bucket; treated as absent")
		case c.Link.ContractID == httpserver.ContractID:
			s.links[c.Key] = *c.Link
			if replaying {
				seen[c.Key] = true
			}
		default:
			delete(s.links, c.Key)
		}
		s.mu.Unlock()
		if !replaying {
			s.trigger()
		}
	})
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// reconcile converges the namespace towards the links. current is every Service of the namespace:
// live lists them from the API server; otherwise the informer's cache is used (every change to it triggers another pass, so a
// decision on a stale cache is revisited).
func (s *serviceApplier) reconcile(ctx context.Context, live bool) error {
	s.mu.Lock()
	if !s.linksSynced {
		s.mu.Unlock()
		return nil
	}
	links := make([]lattice.LinkDefinition, 0, len(s.links))
	for _, l := range s.links {
		links = append(links, l)
	}
	inf := s.informer
	s.mu.Unlock()

	p := planServices(links, s.managed)
	current := map[string]*corev1.Service{}
	if live {
		list, err := s.services.List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("list Services in %s: %w", s.namespace, err)
		}
		for i := range list.Items {
			current[list.Items[i].Name] = &list.Items[i]
		}
	} else {
		for _, o := range inf.GetStore().List() {
			if svc, ok := o.(*corev1.Service); ok {
				current[svc.Name] = svc
			}
		}
	}

	var errs []error
	problems := map[string]string{}
	for _, name := range sortedNames(p.want) {
		d := p.want[name]
		cur, ok := current[name]
		var err error
		switch {
		case !ok:
			err = s.create(ctx, d)
		case !s.owns(cur):
			err = errForeign
		case !d.matches(cur, s.selector, s.owner):
			err = s.update(ctx, d, cur)
		}
		if errors.Is(err, errForeign) {
			problems[name] = fmt.Sprintf("Service %s/%s exists and is not managed by this applier (labels %s); leaving it alone, so actor %s has no Service",
				s.namespace, name, s.managedSelector(), d.link.ActorID)
			continue
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	for name, err := range p.hold {
		problems[name] = err.Error() + "; its Service is left as it is"
	}
	for name, errs := range p.refused {
		msgs := make([]string, 0, len(errs)+1)
		if msg, ok := problems[name]; ok {
			msgs = append(msgs, msg)
		}
		for _, err := range errs {
			msgs = append(msgs, err.Error())
		}
		problems[name] = strings.Join(msgs, "; ")
	}
	for _, name := range sortedNames(current) {
		if !s.owns(current[name]) {
			continue
		}
		if _, ok := p.want[name]; ok {
			continue
		}
		if _, ok := p.hold[name]; ok {
			continue
		}
		if err := s.remove(ctx, current[name]); err != nil {
			errs = append(errs, err)
		}
	}
	s.report(problems)
	return errors.Join(errs...)
}

// errForeign: a Service of the desired name exists without our labels.
var errForeign = errors.New("service not managed by this applier")

// owns reports whether svc carries the labels of this applier's Services.
func (s *serviceApplier) owns(svc *corev1.Service) bool {
	for k, v := range s.managed {
		if svc.Labels[k] != v {
			return false
		}
	}
	return true
}

// create makes d's Service; when one exists it is updated if it is ours and left alone if not.
func (s *serviceApplier) create(ctx context.Context, d desired) error {
	_, err := s.services.Create(ctx, d.object(s.namespace, s.selector, s.owner), metav1.CreateOptions{FieldManager: s.fieldManager})
	switch {
	case err == nil:
		s.log.Info().Str("service", d.name).Int32("port", d.port).Str("actor", d.link.ActorID).Msg("Service created")
		return nil
	case apierrors.IsAlreadyExists(err):
		return s.update(ctx, d, nil)
	default:
		return fmt.Errorf("create Service %s/%s: %w", s.namespace, d.name, err)
	}
}

// update makes the existing Service d's, starting from cur when given (else a fresh read) and
// reading it again on a conflict. A Service without our labels is never written.
func (s *serviceApplier) update(ctx context.Context, d desired, cur *corev1.Service) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if cur == nil {
			got, err := s.services.Get(ctx, d.name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			cur = got
		}
		svc := cur
		cur = nil // on a conflict, read again
		if !s.owns(svc) {
			return errForeign
		}
		if d.matches(svc, s.selector, s.owner) {
			return nil
		}
		svc = svc.DeepCopy()
		d.mutate(svc, s.selector, s.owner)
		if _, err := s.services.Update(ctx, svc, metav1.UpdateOptions{FieldManager: s.fieldManager}); err != nil {
			return err
		}
		s.log.Info().Str("service", d.name).Int32("port", d.port).Str("actor", d.link.ActorID).Msg("Service updated")
		return nil
	})
	switch {
	case err == nil, errors.Is(err, errForeign):
		return err
	case apierrors.IsNotFound(err):
		// Deleted under us: the informer's delete event brings another pass, which creates it.
		s.trigger()
		return nil
	default:
		return fmt.Errorf("update Service %s/%s: %w", s.namespace, d.name, err)
	}
}

// remove deletes one of our Services whose link is gone, only if it is still the object we saw.
func (s *serviceApplier) remove(ctx context.Context, svc *corev1.Service) error {
	if !s.owns(svc) {
		return nil
	}
	uid := svc.UID
	err := s.services.Delete(ctx, svc.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	switch {
	case err == nil:
		s.log.Info().Str("service", svc.Name).Str("actor", svc.Labels[LabelActorID]).Msg("Service deleted: its link is gone")
		return nil
	case apierrors.IsNotFound(err), apierrors.IsConflict(err):
		return nil // already gone, or replaced by another object of that name
	default:
		return fmt.Errorf("delete Service %s/%s: %w", s.namespace, svc.Name, err)
	}
}

// report logs each problem when it appears or changes, and once when it clears.
func (s *serviceApplier) report(problems map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, msg := range problems {
		if s.reported[name] != msg {
			s.log.Warn().Str("service", name).Msg(msg)
		}
	}
	for name := range s.reported {
		if _, ok := problems[name]; !ok {
			s.log.Info().Str("service", name).Msg("Service problem resolved")
		}
	}
	s.reported = problems
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
