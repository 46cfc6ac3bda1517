package applier

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// inClusterNamespaceFile holds the namespace of the pod's service account.
const inClusterNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Client-side rate limits: client-go's defaults (5 QPS, burst 10) would throttle a burst of link
// changes; the API server's own priority and fairness protects it.
const (
	clientQPS   = 50
	clientBurst = 100
)

// access is how the provider reaches one Kubernetes API: a REST config and a default namespace.
type access struct {
	rest      *rest.Config
	namespace string
	// source says where the credentials came from, for messages: "in-cluster service account",
	// "config_b64", "config_file /path".
	source string
}

// loadAccess resolves credentials: a kubeconfig document, else a kubeconfig file, else the
// in-cluster service account. namespace, when not empty, overrides the default namespace (the
// kubeconfig context's, or the pod's).
func loadAccess(kubeconfig []byte, file, namespace string) (*access, error) {
	var a access
	switch {
	case len(kubeconfig) > 0:
		cfg, err := clientcmd.Load(kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("kubernetes config_b64: not a kubeconfig: %w", err)
		}
		cc := clientcmd.NewDefaultClientConfig(*cfg, &clientcmd.ConfigOverrides{})
		if a.rest, err = cc.ClientConfig(); err != nil {
			return nil, fmt.Errorf("kubernetes config_b64: %w", explainConfig(err))
		}
		if a.namespace, _, err = cc.Namespace(); err != nil {
			return nil, fmt.Errorf("kubernetes config_b64: namespace: %w", err)
		}
		a.source = "config_b64"
	case file != "":
		rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: file}
		cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
		var err error
		if a.rest, err = cc.ClientConfig(); err != nil {
			return nil, fmt.Errorf("kubernetes config_file %s: %w", file, explainConfig(err))
		}
		if a.namespace, _, err = cc.Namespace(); err != nil {
			return nil, fmt.Errorf("kubernetes config_file %s: namespace: %w", file, err)
		}
		a.source = "config_file " + file
	default:
		cfg, err := rest.InClusterConfig()
		if errors.Is(err, rest.ErrNotInCluster) {
			return nil, errors.New("kubernetes: not running in a pod (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are unset) " +
				"and no kubeconfig given: set config_b64 or config_file in the provider configuration")
		}
		if err != nil {
			return nil, fmt.Errorf("kubernetes in-cluster config: %w", err)
		}
		a.rest = cfg
		a.namespace = "default"
		if b, err := os.ReadFile(inClusterNamespaceFile); err == nil && strings.TrimSpace(string(b)) != "" {
			a.namespace = strings.TrimSpace(string(b))
		}
		a.source = "in-cluster service account"
	}
	if namespace != "" {
		a.namespace = namespace
	}
	if a.namespace == "" {
		a.namespace = "default"
	}
	a.rest.QPS, a.rest.Burst = clientQPS, clientBurst
	a.rest.UserAgent = DefaultFieldManager
	return &a, nil
}

// explainConfig replaces client-go's message for an empty kubeconfig, which points at the
// KUBERNETES_MASTER environment variable, with what is wrong with the document.
func explainConfig(err error) error {
	if clientcmd.IsEmptyConfig(err) {
		return errors.New("the kubeconfig has no server: no current-context, or its cluster is missing")
	}
	return err
}
