package httpserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	contract "github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
)

// Defaults and limits of the settings, as upstream's httpserver provider has them.
const (
	DefaultAddress       = contract.DefaultAddress
	DefaultMaxContentLen = 10 << 20  // 10 MiB
	MaxContentLenLimit   = 500 << 20 // upstream's ceiling
	DefaultCORSMaxAge    = 300 * time.Second

	// Timeouts of a listener's connections (Trellis settings, see Settings).
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadBodyTimeout   = time.Minute
	DefaultIdleTimeout       = 2 * time.Minute
)

// The link values (and config_json / config_b64 fields) that set the timeouts, in milliseconds.
const (
	KeyReadHeaderTimeout = "read_header_timeout_ms"
	KeyReadBodyTimeout   = "read_body_timeout_ms"
	KeyIdleTimeout       = "idle_timeout_ms"
)

// Default CORS lists (upstream's): any origin, common methods and request headers.
var (
	DefaultCORSMethods = []string{"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"}
	DefaultCORSHeaders = []string{"accept", "accept-language", "content-type", "content-language"}
)

// Settings is how one actor's listener behaves, parsed from its link values by ParseSettings.
type Settings struct {
	// Address is the IP:PORT to listen on.
	Address string
	// Timeout is how long to wait for the actor before answering 503; 0 means the lattice's RPC
	// timeout (default_rpc_timeout_ms).
	Timeout time.Duration
	// MaxContentLen is the largest request body accepted; larger ones get 413.
	MaxContentLen int64
	// CORS is the cross-origin policy, applied to requests carrying an Origin header.
	CORS CORS
	// TLS, when both files are set, serves HTTPS.
	TLS TLS
	// ReadOnly allows only GET and HEAD (others get 405).
	ReadOnly bool
	// CacheControl, when set, is the Cache-Control header of responses that carry none.
	CacheControl string
	// ReadHeaderTimeout bounds reading a request's headers; ReadBodyTimeout reading the whole
	// request, headers and body, from its first byte (a slower client gets 408 and the
	// connection is closed); IdleTimeout how long a kept-alive connection may wait for its next
	// request. Set by the link values (or config fields) read_header_timeout_ms,
	// read_body_timeout_ms and idle_timeout_ms.
	ReadHeaderTimeout time.Duration
	ReadBodyTimeout   time.Duration
	IdleTimeout       time.Duration
}

// CORS is the cross-origin policy. An empty AllowedOrigins allows any origin.
type CORS struct {
	AllowedOrigins []string
	AllowedHeaders []string
	AllowedMethods []string
	ExposedHeaders []string
	MaxAge         time.Duration
}

// TLS names the PEM files of the server certificate chain and private key.
type TLS struct {
	CertFile    string
	PrivKeyFile string
}

// Enabled reports whether TLS is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" && t.PrivKeyFile != "" }

// DefaultSettings are the settings of a link without values.
func DefaultSettings() Settings {
	return Settings{
		Address:           DefaultAddress,
		MaxContentLen:     DefaultMaxContentLen,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		ReadBodyTimeout:   DefaultReadBodyTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		CORS: CORS{
			AllowedHeaders: append([]string(nil), DefaultCORSHeaders...),
			AllowedMethods: append([]string(nil), DefaultCORSMethods...),
			ExposedHeaders: []string{},
			MaxAge:         DefaultCORSMaxAge,
		},
	}
}

// ErrSettings is wrapped by every ParseSettings error: the contract's ErrLinkValues, so errors
// of the listen-address rule and of the other settings are one kind.
var ErrSettings = contract.ErrLinkValues

// ParseSettings reads the settings of one link from its values. Keys are case-insensitive (two
// keys differing only in case are an error). The listen address is the contract's rule
// (contract.ListenAddress, which the Kubernetes applier uses too): port (binds 127.0.0.1), else
// address, else the address of config_json, else of config_b64, else DefaultAddress. The other
// settings come from the documents in upstream's order, later ones overriding earlier ones:
// defaults, config_b64 (base64 of the JSON, padded or not), config_json (JSON object: address,
// timeout_ms, max_content_len, cors {allowed_origins, allowed_headers, allowed_methods,
// exposed_headers, max_age_secs}, tls {cert_file, priv_key_file}, readonly_mode, cache_control).
func ParseSettings(values map[string]string) (Settings, error) {
	addr, err := contract.ListenAddress(values)
	if err != nil {
		return Settings{}, err
	}
	vals, err := contract.FoldKeys(values)
	if err != nil {
		return Settings{}, err
	}
	docs, err := contract.ConfigDocuments(vals)
	if err != nil {
		return Settings{}, err
	}
	s := DefaultSettings()
	for _, d := range docs {
		if err := s.mergeJSON(d.JSON); err != nil {
			return Settings{}, fmt.Errorf("%w: %s: %v", ErrSettings, d.Key, err)
		}
	}
	if err := s.timeoutValues(vals); err != nil {
		return Settings{}, fmt.Errorf("%w: %v", ErrSettings, err)
	}
	s.Address = addr.String()
	if err := s.validate(); err != nil {
		return Settings{}, fmt.Errorf("%w: %v", ErrSettings, err)
	}
	return s, nil
}

// jsonSettings is the config_json / config_b64 document (its address is read by
// contract.ListenAddress). Unknown fields are ignored, as upstream does.
type jsonSettings struct {
	TimeoutMS     *uint64         `json:"timeout_ms"`
	MaxContentLen json.RawMessage `json:"max_content_len"`
	CORS          *struct {
		AllowedOrigins *[]string `json:"allowed_origins"`
		AllowedHeaders *[]string `json:"allowed_headers"`
		AllowedMethods *[]string `json:"allowed_methods"`
		ExposedHeaders *[]string `json:"exposed_headers"`
		MaxAgeSecs     *uint64   `json:"max_age_secs"`
	} `json:"cors"`
	TLS *struct {
		CertFile    *string `json:"cert_file"`
		PrivKeyFile *string `json:"priv_key_file"`
	} `json:"tls"`
	ReadonlyMode      *bool   `json:"readonly_mode"`
	CacheControl      *string `json:"cache_control"`
	ReadHeaderTimeout *uint64 `json:"read_header_timeout_ms"`
	ReadBodyTimeout   *uint64 `json:"read_body_timeout_ms"`
	IdleTimeout       *uint64 `json:"idle_timeout_ms"`
}

func (s *Settings) mergeJSON(raw []byte) error {
	var j jsonSettings
	if err := json.Unmarshal(raw, &j); err != nil {
		return fmt.Errorf("invalid JSON: %v", err)
	}
	if j.TimeoutMS != nil {
		if *j.TimeoutMS > math.MaxInt64/uint64(time.Millisecond) {
			return fmt.Errorf("timeout_ms %d: too large", *j.TimeoutMS)
		}
		s.Timeout = time.Duration(*j.TimeoutMS) * time.Millisecond
	}
	if len(j.MaxContentLen) > 0 && string(j.MaxContentLen) != "null" {
		n, err := parseContentLen(j.MaxContentLen)
		if err != nil {
			return fmt.Errorf("max_content_len %s: %v", j.MaxContentLen, err)
		}
		s.MaxContentLen = n
	}
	if c := j.CORS; c != nil {
		set := func(dst *[]string, src *[]string) {
			if src != nil {
				*dst = append([]string{}, (*src)...)
			}
		}
		set(&s.CORS.AllowedOrigins, c.AllowedOrigins)
		set(&s.CORS.AllowedHeaders, c.AllowedHeaders)
		set(&s.CORS.AllowedMethods, c.AllowedMethods)
		set(&s.CORS.ExposedHeaders, c.ExposedHeaders)
		if c.MaxAgeSecs != nil {
			if *c.MaxAgeSecs > math.MaxInt64/uint64(time.Second) {
				return fmt.Errorf("cors.max_age_secs %d: too large", *c.MaxAgeSecs)
			}
			s.CORS.MaxAge = time.Duration(*c.MaxAgeSecs) * time.Second
		}
	}
	if t := j.TLS; t != nil {
		if t.CertFile != nil {
			s.TLS.CertFile = *t.CertFile
		}
		if t.PrivKeyFile != nil {
			s.TLS.PrivKeyFile = *t.PrivKeyFile
		}
	}
	if j.ReadonlyMode != nil {
		s.ReadOnly = *j.ReadonlyMode
	}
	if j.CacheControl != nil {
		s.CacheControl = *j.CacheControl
	}
	for _, t := range []struct {
		key string
		ms  *uint64
		dst *time.Duration
	}{{KeyReadHeaderTimeout, j.ReadHeaderTimeout, &s.ReadHeaderTimeout}, {KeyReadBodyTimeout, j.ReadBodyTimeout, &s.ReadBodyTimeout}, {KeyIdleTimeout, j.IdleTimeout, &s.IdleTimeout}} {
		if t.ms == nil {
			continue
		}
		d, err := timeoutMS(t.key, *t.ms)
		if err != nil {
			return err
		}
		*t.dst = d
	}
	return nil
}

// timeoutValues reads the timeouts given as link values of their own, which win over the config
// documents' fields.
func (s *Settings) timeoutValues(vals map[string]string) error {
	for _, t := range []struct {
		key string
		dst *time.Duration
	}{{KeyReadHeaderTimeout, &s.ReadHeaderTimeout}, {KeyReadBodyTimeout, &s.ReadBodyTimeout}, {KeyIdleTimeout, &s.IdleTimeout}} {
		v, ok := vals[t.key]
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("%s %q: want milliseconds as a number above 0", t.key, v)
		}
		d, err := timeoutMS(t.key, n)
		if err != nil {
			return err
		}
		*t.dst = d
	}
	return nil
}

// timeoutMS turns a timeout in milliseconds into a duration: above 0 (a listener without a
// timeout is what these settings exist to prevent) and at most a day.
func timeoutMS(key string, ms uint64) (time.Duration, error) {
	if ms == 0 || ms > uint64(24*time.Hour/time.Millisecond) {
		return 0, fmt.Errorf("%s %d: want milliseconds above 0 and at most a day (86400000)", key, ms)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// parseContentLen reads a size: a JSON number of bytes, or a string of digits with an optional
// k, m or g suffix (any case) meaning multiples of 1024.
func parseContentLen(raw json.RawMessage) (int64, error) {
	var text string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return 0, err
		}
	} else {
		text = string(raw)
	}
	return ParseSize(text)
}

// ParseSize reads "10485760", "10m", "10M", "512k", "1g".
func ParseSize(text string) (int64, error) {
	t := strings.TrimSpace(text)
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		}
		if mult != 1 {
			t = strings.TrimSpace(t[:len(t)-1])
		}
	}
	n, err := strconv.ParseUint(t, 10, 63)
	if err != nil {
		return 0, errors.New(`want bytes as a number, or a number with suffix k, m or g ("100M")`)
	}
	if n > MaxContentLenLimit/uint64(mult) {
		return 0, fmt.Errorf("larger than the limit of %d bytes", int64(MaxContentLenLimit))
	}
	return int64(n) * mult, nil
}

func (s *Settings) validate() error {
	var errs []error
	if (s.TLS.CertFile == "") != (s.TLS.PrivKeyFile == "") {
		errs = append(errs, errors.New("tls: both cert_file and priv_key_file must be set"))
	}
	if s.TLS.Enabled() {
		for _, f := range []struct{ key, path string }{{"cert_file", s.TLS.CertFile}, {"priv_key_file", s.TLS.PrivKeyFile}} {
			if st, err := os.Stat(f.path); err != nil || !st.Mode().IsRegular() {
				errs = append(errs, fmt.Errorf("tls.%s %q: not a file", f.key, f.path))
			}
		}
	}
	for _, m := range s.CORS.AllowedMethods {
		if !isToken(m) {
			errs = append(errs, fmt.Errorf("cors.allowed_methods: invalid method %q", m))
		}
	}
	for _, list := range []struct {
		key  string
		vals []string
	}{{"cors.allowed_headers", s.CORS.AllowedHeaders}, {"cors.exposed_headers", s.CORS.ExposedHeaders}} {
		for _, h := range list.vals {
			if !isToken(h) {
				errs = append(errs, fmt.Errorf("%s: invalid header name %q", list.key, h))
			}
		}
	}
	for _, o := range s.CORS.AllowedOrigins {
		if err := checkOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("cors.allowed_origins: %v", err))
		}
	}
	if s.CacheControl != "" && !validHeaderValue(s.CacheControl) {
		errs = append(errs, fmt.Errorf("cache_control %q: not a valid header value", s.CacheControl))
	}
	return errors.Join(errs...)
}

// checkOrigin accepts http[s]://host[:port] with nothing after but an optional "/".
func checkOrigin(o string) error {
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok || (scheme != "http" && scheme != "https") {
		return fmt.Errorf("origin %q: want http[s]://host[:port]", o)
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" || strings.ContainsAny(rest, "/?# \t\r\n") {
		return fmt.Errorf("origin %q: want http[s]://host[:port]", o)
	}
	return nil
}

// normalizeOrigin is how origins are compared: without a trailing slash, case-insensitively.
func normalizeOrigin(o string) string { return strings.ToLower(strings.TrimSuffix(o, "/")) }

// isToken reports whether s is an HTTP token (method or header name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether v can be sent as a header value: visible ASCII, space and tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\t' && (c < 0x20 || c > 0x7e) {
			return false
		}
	}
	return true
}

// allowsMethod reports whether the readonly mode lets a method through.
func (s *Settings) allowsMethod(method string) bool {
	return !s.ReadOnly || method == http.MethodGet || method == http.MethodHead
}
