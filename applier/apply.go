package applier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	contract "github.com/trellis-lattice/trellis/lattice/contracts/applier"
)

// ErrManifest says an Apply's manifest is not one Kubernetes object.
var ErrManifest = errors.New("bad manifest")

// ErrDeleteRequest says a Delete names no object.
var ErrDeleteRequest = errors.New("bad delete request")

// maxManifest bounds a manifest (the API server refuses requests over 3 MiB anyway).
const maxManifest = 3 << 20

// ParseManifest reads a YAML or JSON manifest holding exactly one object with apiVersion, kind and
// metadata.name. Errors wrap ErrManifest and say what is wrong.
func ParseManifest(manifest []byte) (*unstructured.Unstructured, error) {
	if len(manifest) > maxManifest {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrManifest, len(manifest), maxManifest)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var objs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: not a YAML or JSON object: %v", ErrManifest, err)
		}
		if len(doc) == 0 {
			continue // an empty document between separators
		}
		objs = append(objs, doc)
	}
	switch len(objs) {
	case 0:
		return nil, fmt.Errorf("%w: no object in it", ErrManifest)
	case 1:
	default:
		return nil, fmt.Errorf("%w: %d objects in it; Apply takes one", ErrManifest, len(objs))
	}
	obj := &unstructured.Unstructured{Object: objs[0]}
	for _, f := range []string{"apiVersion", "kind"} {
		v, ok := obj.Object[f].(string)
		if !ok || strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("%w: %s is missing or not a string", ErrManifest, f)
		}
	}
	if _, err := schema.ParseGroupVersion(obj.GetAPIVersion()); err != nil {
		return nil, fmt.Errorf("%w: apiVersion %q: %v", ErrManifest, obj.GetAPIVersion(), err)
	}
	if md, ok := obj.Object["metadata"]; ok {
		if _, ok := md.(map[string]any); !ok {
			return nil, fmt.Errorf("%w: metadata is not an object", ErrManifest)
		}
	}
	name, found, err := unstructured.NestedString(obj.Object, "metadata", "name")
	if err != nil || !found || strings.TrimSpace(name) == "" {
		return nil, fmt.Errorf("%w: %s has no metadata.name", ErrManifest, obj.GetKind())
	}
	if _, _, err := unstructured.NestedString(obj.Object, "metadata", "namespace"); err != nil {
		return nil, fmt.Errorf("%w: metadata.namespace is not a string", ErrManifest)
	}
	return obj, nil
}

// kubeClient applies and deletes arbitrary objects through one set of credentials.
type kubeClient struct {
	access  *access
	dynamic dynamic.Interface
	mapper  *restmapper.DeferredDiscoveryRESTMapper
}

func newKubeClient(a *access) (*kubeClient, error) {
	dyn, err := dynamic.NewForConfig(a.rest)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client (%s): %w", a.source, err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(a.rest)
	if err != nil {
		return nil, fmt.Errorf("kubernetes discovery client (%s): %w", a.source, err)
	}
	return &kubeClient{
		access:  a,
		dynamic: dyn,
		mapper:  restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc)),
	}, nil
}

// resource finds the API resource of a kind, reading discovery again once when the kind is
// unknown (a CRD installed since the last read).
func (k *kubeClient) resource(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		k.mapper.Reset()
		m, err = k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if meta.IsNoMatchError(err) {
		return nil, fmt.Errorf("the API server serves no kind %s in %s", gvk.Kind, gvk.GroupVersion())
	}
	if err != nil {
		return nil, fmt.Errorf("look up kind %s in %s: %w", gvk.Kind, gvk.GroupVersion(), err)
	}
	return m, nil
}

// target is the client of an object's resource and its namespace ("" for cluster-scoped kinds).
func (k *kubeClient) target(m *meta.RESTMapping, namespace, defaultNS string) (dynamic.ResourceInterface, string) {
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		return k.dynamic.Resource(m.Resource), ""
	}
	if namespace == "" {
		namespace = defaultNS
	}
	return k.dynamic.Resource(m.Resource).Namespace(namespace), namespace
}

// apply creates the manifest's object or, when it exists, applies it, both as one server-side
// apply (forcing conflicts, as `kubectl apply --server-side --force-conflicts`). defaultNS is the
// namespace of namespaced objects that name none.
//
// A create followed by server-side applies would leave the created fields owned by the create's
// "Update" entry in managedFields, so a field dropped from a later manifest would stay (a Service
// re-applied with another port would keep both ports). Applying from the start avoids that.
func (k *kubeClient) apply(ctx context.Context, manifest []byte, fieldManager, defaultNS string) error {
	obj, err := ParseManifest(manifest)
	if err != nil {
		return err
	}
	gvk := obj.GroupVersionKind()
	m, err := k.resource(gvk)
	if err != nil {
		return fmt.Errorf("apply %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	ri, ns := k.target(m, obj.GetNamespace(), defaultNS)
	obj.SetNamespace(ns)
	what := objectName(gvk.Kind, ns, obj.GetName())
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return fmt.Errorf("apply %s: %w", what, err)
	}
	force := true
	if _, err := ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: fieldManager, Force: &force}); err != nil {
		return fmt.Errorf("apply %s: %w", what, err)
	}
	return nil
}

// delete deletes the named object; one that does not exist counts as deleted.
func (k *kubeClient) delete(ctx context.Context, req contract.DeleteRequest, defaultNS string) error {
	switch {
	case strings.TrimSpace(req.Version) == "":
		return fmt.Errorf("%w: version is empty (core objects such as Services are group \"\", version \"v1\")", ErrDeleteRequest)
	case strings.TrimSpace(req.Kind) == "":
		return fmt.Errorf("%w: kind is empty", ErrDeleteRequest)
	case strings.TrimSpace(req.Name) == "":
		return fmt.Errorf("%w: name is empty", ErrDeleteRequest)
	}
	gvk := schema.GroupVersionKind{Group: req.Group, Version: req.Version, Kind: req.Kind}
	m, err := k.resource(gvk)
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", req.Kind, req.Name, err)
	}
	ri, ns := k.target(m, req.Namespace, defaultNS)
	policy := metav1.DeletePropagationBackground
	err = ri.Delete(ctx, req.Name, metav1.DeleteOptions{PropagationPolicy: &policy})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete %s: %w", objectName(req.Kind, ns, req.Name), err)
	}
	return nil
}

func objectName(kind, namespace, name string) string {
	if namespace == "" {
		return kind + " " + name
	}
	return kind + " " + namespace + "/" + name
}
