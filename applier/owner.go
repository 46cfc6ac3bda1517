package applier

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

// serviceAccountOwner returns the owner reference the applier puts on its Services when it acts
// as a ServiceAccount of the Services' own namespace: deleting that ServiceAccount (as `helm
// uninstall` does with the chart's) then lets Kubernetes' garbage collector delete the Services
// too, so no Service outlives the release that made it. The ServiceAccount's name and UID are read
// from the claims of the applier's own bearer token, so no permission beyond Services is needed.
// It returns nil for any other identity, and for a ServiceAccount of another namespace (an owner
// must live in its dependent's namespace).
func serviceAccountOwner(cfg *rest.Config, namespace string) *metav1.OwnerReference {
	token := cfg.BearerToken
	if token == "" && cfg.BearerTokenFile != "" {
		b, err := os.ReadFile(cfg.BearerTokenFile)
		if err != nil {
			return nil
		}
		token = strings.TrimSpace(string(b))
	}
	ns, name, uid := tokenServiceAccount(token)
	if uid == "" || name == "" || ns != namespace {
		return nil
	}
	return &metav1.OwnerReference{APIVersion: "v1", Kind: "ServiceAccount", Name: name, UID: types.UID(uid)}
}

// tokenServiceAccount reads the ServiceAccount's namespace, name and UID from a Kubernetes
// ServiceAccount token: a bound token (TokenRequest, projected volumes) or a legacy Secret one.
// The token is not verified: it is the applier's own, and the API server checks it anyway.
func tokenServiceAccount(token string) (namespace, name, uid string) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", "", ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", "", ""
	}
	var c struct {
		Bound struct {
			Namespace      string `json:"namespace"`
			ServiceAccount struct {
				Name string `json:"name"`
				UID  string `json:"uid"`
			} `json:"serviceaccount"`
		} `json:"kubernetes.io"`
		LegacyNamespace string `json:"kubernetes.io/serviceaccount/namespace"`
		LegacyName      string `json:"kubernetes.io/serviceaccount/service-account.name"`
		LegacyUID       string `json:"kubernetes.io/serviceaccount/service-account.uid"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return "", "", ""
	}
	if c.Bound.ServiceAccount.UID != "" {
		return c.Bound.Namespace, c.Bound.ServiceAccount.Name, c.Bound.ServiceAccount.UID
	}
	return c.LegacyNamespace, c.LegacyName, c.LegacyUID
}

// hasOwner reports whether refs already name owner (by UID).
func hasOwner(refs []metav1.OwnerReference, owner *metav1.OwnerReference) bool {
	if owner == nil {
		return true
	}
	for _, r := range refs {
		if r.UID == owner.UID {
			return true
		}
	}
	return false
}
