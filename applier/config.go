package applier

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	contract "github.com/trellis-lattice/trellis/lattice/contracts/applier"
	"github.com/trellis-lattice/trellis/providers"
)

// Defaults.
const (
	// DefaultResync is how often the Service applier converges against a fresh list of Services.
	DefaultResync = 30 * time.Second
	// DefaultFieldManager names the applier in the managedFields of what it writes.
	DefaultFieldManager = "trellis-applier"
)

// DefaultSelector selects the host pods, which the Helm chart labels wasmcloud.dev/route-to=true.
func DefaultSelector() map[string]string {
	return map[string]string{"wasmcloud.dev/route-to": "true"}
}

// ProviderConfig is the SDK configuration of this provider.
func ProviderConfig() providers.Config {
	return providers.Config{ContractID: contract.ContractID, Name: "kubernetes-applier"}
}

// Config configures the provider. The provider's configuration string (HostData config_json, from
// `ctl start provider --config`) is a JSON object with the same settings (see ParseConfigJSON);
// what it sets overrides these.
type Config struct {
	// Namespace is where the Service applier manages Services and where manifests without a
	// namespace go. Empty: the kubeconfig context's namespace, else the pod's own namespace when
	// running in a cluster, else "default".
	Namespace string
	// Kubeconfig is a kubeconfig document (JSON key config_b64, base64). KubeconfigFile is the path
	// of one (config_file). With neither, the in-cluster service account is used.
	Kubeconfig     []byte
	KubeconfigFile string
	// Selector selects the pods a Service routes to (default DefaultSelector).
	Selector map[string]string
	// Resync is the period of the full reconciliation against a live list of Services (default
	// DefaultResync).
	Resync time.Duration
	// DisableServices turns the Service applier off: only the contract is served.
	DisableServices bool
	// FieldManager is the field manager of creates, updates and server-side applies (default
	// DefaultFieldManager).
	FieldManager string
}

// DefaultConfig returns the defaults: in-cluster access, the pod's namespace, the default selector,
// a 30 s resync.
func DefaultConfig() Config {
	return Config{Selector: DefaultSelector(), Resync: DefaultResync, FieldManager: DefaultFieldManager}
}

// Validate names the first invalid setting.
func (c Config) Validate() error {
	if c.Namespace != "" {
		if errs := validation.IsDNS1123Label(c.Namespace); len(errs) > 0 {
			return fmt.Errorf("applier config namespace %q: %s", c.Namespace, strings.Join(errs, "; "))
		}
	}
	if len(c.Kubeconfig) > 0 && c.KubeconfigFile != "" {
		return errors.New("applier config: config_b64 and config_file are both set: give one kubeconfig")
	}
	if len(c.Selector) == 0 {
		return errors.New("applier config selector: empty: a Service must select the host pods")
	}
	for _, k := range sortedKeys(c.Selector) {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return fmt.Errorf("applier config selector key %q: %s", k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(c.Selector[k]); len(errs) > 0 {
			return fmt.Errorf("applier config selector %s value %q: %s", k, c.Selector[k], strings.Join(errs, "; "))
		}
	}
	if c.Resync < time.Second {
		return fmt.Errorf("applier config resync %s: must be at least 1s", c.Resync)
	}
	if strings.TrimSpace(c.FieldManager) == "" {
		return errors.New("applier config field_manager: empty")
	}
	return nil
}

// jsonConfig is the provider's configuration string. Keys match case-insensitively; unknown keys
// are refused, so a typo is an error rather than a silently ignored setting.
type jsonConfig struct {
	Namespace       *string           `json:"namespace"`
	ConfigB64       *string           `json:"config_b64"`
	ConfigFile      *string           `json:"config_file"`
	Selector        map[string]string `json:"selector"`
	Resync          json.RawMessage   `json:"resync"`
	DisableServices *bool             `json:"disable_services"`
	FieldManager    *string           `json:"field_manager"`
	// MetricsAddr is read by the provider SDK (providers.MetricsAddrKey), which serves the
	// applier's metrics there.
	MetricsAddr *string `json:"metrics_addr"`
}

// ParseConfigJSON overlays the provider's configuration string on base and validates the result.
// An empty string leaves base as it is. The string is a JSON object:
//
//	{"namespace": "app", "config_b64": "<base64 kubeconfig>", "config_file": "/path",
//	 "selector": {"wasmcloud.dev/route-to": "true"}, "resync": "30s", "disable_services": false,
//	 "field_manager": "trellis-applier"}
//
// resync is a Go duration ("45s", "2m") or a number of seconds. A kubeconfig given here replaces
// one in base (config_b64 clears config_file and the other way round).
func ParseConfigJSON(base Config, raw string) (Config, error) {
	c := base
	c.Selector = maps.Clone(base.Selector)
	if strings.TrimSpace(raw) == "" {
		return c, c.Validate()
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	var j jsonConfig
	if err := dec.Decode(&j); err != nil {
		return Config{}, fmt.Errorf("applier config: not a JSON object of known settings: %w", err)
	}
	if dec.More() {
		return Config{}, errors.New("applier config: trailing data after the JSON object")
	}
	if j.Namespace != nil {
		c.Namespace = strings.TrimSpace(*j.Namespace)
	}
	if j.ConfigB64 != nil && j.ConfigFile != nil {
		return Config{}, errors.New("applier config: config_b64 and config_file are both set: give one kubeconfig")
	}
	if j.ConfigB64 != nil {
		kc, err := decodeBase64(*j.ConfigB64)
		if err != nil {
			return Config{}, fmt.Errorf("applier config config_b64: not base64: %w", err)
		}
		c.Kubeconfig, c.KubeconfigFile = kc, ""
	}
	if j.ConfigFile != nil {
		c.Kubeconfig, c.KubeconfigFile = nil, strings.TrimSpace(*j.ConfigFile)
	}
	if j.Selector != nil {
		c.Selector = j.Selector
	}
	if len(j.Resync) > 0 {
		d, err := parseDuration(j.Resync)
		if err != nil {
			return Config{}, fmt.Errorf("applier config resync: %w", err)
		}
		c.Resync = d
	}
	if j.DisableServices != nil {
		c.DisableServices = *j.DisableServices
	}
	if j.FieldManager != nil {
		c.FieldManager = *j.FieldManager
	}
	return c, c.Validate()
}

// parseDuration reads "30s" or 30 (seconds).
func parseDuration(raw json.RawMessage) (time.Duration, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			if secs, nerr := strconv.ParseFloat(strings.TrimSpace(s), 64); nerr == nil {
				return secondsDuration(secs)
			}
			return 0, fmt.Errorf("%q: want a duration such as \"30s\" or a number of seconds", s)
		}
		return d, nil
	}
	var secs float64
	if err := json.Unmarshal(raw, &secs); err != nil {
		return 0, fmt.Errorf("%s: want a duration such as \"30s\" or a number of seconds", bytes.TrimSpace(raw))
	}
	return secondsDuration(secs)
}

func secondsDuration(secs float64) (time.Duration, error) {
	if secs < 0 || secs > 366*24*3600 {
		return 0, fmt.Errorf("%v seconds: out of range", secs)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// decodeBase64 accepts standard base64 with or without padding, as the httpserver provider does.
func decodeBase64(v string) ([]byte, error) {
	v = strings.TrimSpace(v)
	if strings.HasSuffix(v, "=") {
		return base64.StdEncoding.DecodeString(v)
	}
	return base64.RawStdEncoding.DecodeString(v)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
