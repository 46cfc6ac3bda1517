package httpserver

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	contract "github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver/httpservertest"
)

func TestParseSettings(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(cert, []byte("x"), 0o600))
	require.NoError(t, os.WriteFile(key, []byte("x"), 0o600))

	with := func(edit func(*Settings)) Settings {
		s := DefaultSettings()
		edit(&s)
		return s
	}
	tests := []struct {
		name   string
		values map[string]string
		want   Settings
	}{
		{"no values", nil, DefaultSettings()},
		{"address", map[string]string{"address": "0.0.0.0:8080"}, with(func(s *Settings) { s.Address = "0.0.0.0:8080" })},
		{"ADDRESS upper case", map[string]string{"ADDRESS": "0.0.0.0:8080"}, with(func(s *Settings) { s.Address = "0.0.0.0:8080" })},
		{"ipv6 address", map[string]string{"address": "[::1]:9000"}, with(func(s *Settings) { s.Address = "[::1]:9000" })},
		{"port binds loopback", map[string]string{"Port": "8081"}, with(func(s *Settings) { s.Address = "127.0.0.1:8081" })},
		{"port wins over address", map[string]string{"address": "0.0.0.0:1", "port": "2"}, with(func(s *Settings) { s.Address = "127.0.0.1:2" })},
		{"config_json", map[string]string{"config_json": `{"address":"0.0.0.0:9090","timeout_ms":1500,"max_content_len":"100M",
			"cors":{"allowed_origins":["https://a.example"],"allowed_headers":["x-a"],"allowed_methods":["GET"],"exposed_headers":["x-b"],"max_age_secs":60},
			"readonly_mode":true,"cache_control":"max-age=60","unknown":1}`},
			with(func(s *Settings) {
				s.Address = "0.0.0.0:9090"
				s.Timeout = 1500 * time.Millisecond
				s.MaxContentLen = 100 << 20
				s.CORS = CORS{AllowedOrigins: []string{"https://a.example"}, AllowedHeaders: []string{"x-a"}, AllowedMethods: []string{"GET"}, ExposedHeaders: []string{"x-b"}, MaxAge: time.Minute}
				s.ReadOnly = true
				s.CacheControl = "max-age=60"
			})},
		{"address value wins over config_json", map[string]string{"config_json": `{"address":"0.0.0.0:1"}`, "address": "127.0.0.1:3"},
			with(func(s *Settings) { s.Address = "127.0.0.1:3" })},
		{"config_b64 unpadded", map[string]string{"config_b64": base64.RawStdEncoding.EncodeToString([]byte(`{"max_content_len":2048}`))},
			with(func(s *Settings) { s.MaxContentLen = 2048 })},
		{"config_b64 padded", map[string]string{"config_b64": base64.StdEncoding.EncodeToString([]byte(`{"max_content_len":"10k"}`))},
			with(func(s *Settings) { s.MaxContentLen = 10 << 10 })},
		{"config_json overrides config_b64", map[string]string{
			"config_b64":  base64.StdEncoding.EncodeToString([]byte(`{"max_content_len":"1k","readonly_mode":true}`)),
			"config_json": `{"max_content_len":"2k"}`,
		}, with(func(s *Settings) { s.MaxContentLen = 2 << 10; s.ReadOnly = true })},
		{"partial cors keeps other defaults", map[string]string{"config_json": `{"cors":{"allowed_origins":["http://x:3000/"]}}`},
			with(func(s *Settings) { s.CORS.AllowedOrigins = []string{"http://x:3000/"} })},
		{"tls", map[string]string{"config_json": `{"tls":{"cert_file":"` + cert + `","priv_key_file":"` + key + `"}}`},
			with(func(s *Settings) { s.TLS = TLS{CertFile: cert, PrivKeyFile: key} })},
		{"null max_content_len keeps default", map[string]string{"config_json": `{"max_content_len":null}`}, DefaultSettings()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSettings(tc.values)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseSettingsErrors(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]string
		want   string
	}{
		{"keys colliding by case", map[string]string{"address": "127.0.0.1:1", "ADDRESS": "127.0.0.1:2"}, `keys "ADDRESS" and "address" differ only in case`},
		{"address without port", map[string]string{"address": "127.0.0.1"}, "address: \"127.0.0.1\": want IP:PORT"},
		{"address host name", map[string]string{"address": "localhost:80"}, `"localhost" is not an IP address`},
		{"address port too big", map[string]string{"address": "127.0.0.1:70000"}, `port "70000"`},
		{"port not a number", map[string]string{"port": "http"}, `port "http": want a number`},
		{"config_b64 not base64", map[string]string{"config_b64": "%%%"}, "config_b64: not base64"},
		{"config_b64 not JSON", map[string]string{"config_b64": base64.StdEncoding.EncodeToString([]byte("{nope"))}, "config_b64: invalid JSON"},
		{"config_json not JSON", map[string]string{"config_json": "{"}, "config_json: invalid JSON"},
		{"config_json not an object", map[string]string{"config_json": "[1]"}, "config_json: want a JSON object"},
		{"config_json wrong type", map[string]string{"config_json": `{"timeout_ms":"soon"}`}, "config_json: invalid JSON"},
		{"config_json bad address", map[string]string{"config_json": `{"address":"nowhere"}`}, "config_json: address"},
		{"max_content_len words", map[string]string{"config_json": `{"max_content_len":"lots"}`}, `max_content_len "lots": want bytes`},
		{"max_content_len over limit", map[string]string{"config_json": `{"max_content_len":"1g"}`}, "larger than the limit"},
		{"max_content_len negative", map[string]string{"config_json": `{"max_content_len":-1}`}, "max_content_len -1"},
		{"tls half set", map[string]string{"config_json": `{"tls":{"cert_file":"/x"}}`}, "both cert_file and priv_key_file"},
		{"tls missing files", map[string]string{"config_json": `{"tls":{"cert_file":"/nope/c","priv_key_file":"/nope/k"}}`}, `tls.cert_file "/nope/c": not a file`},
		{"cors bad method", map[string]string{"config_json": `{"cors":{"allowed_methods":["GE T"]}}`}, `invalid method "GE T"`},
		{"cors bad origin", map[string]string{"config_json": `{"cors":{"allowed_origins":["ftp://x"]}}`}, `origin "ftp://x"`},
		{"cors origin with path", map[string]string{"config_json": `{"cors":{"allowed_origins":["http://x/y"]}}`}, `origin "http://x/y"`},
		{"cache_control with newline", map[string]string{"config_json": `{"cache_control":"a\nb"}`}, "cache_control"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSettings(tc.values)
			require.ErrorIs(t, err, ErrSettings)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestSettingsListenAddress runs the listen-address table the contract and the applier share
// (httpservertest) against ParseSettings: where the provider listens.
func TestSettingsListenAddress(t *testing.T) {
	for _, tc := range httpservertest.ListenCases() {
		t.Run(tc.Name, func(t *testing.T) {
			s, err := ParseSettings(tc.Values)
			if tc.Error != "" {
				require.ErrorIs(t, err, ErrSettings)
				require.ErrorContains(t, err, tc.Error)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.Address, s.Address)
		})
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "500": 500, "5k": 5 << 10, "5K": 5 << 10, "10m": 10 << 20, "100M": 100 << 20, " 2 m ": 2 << 20, "500m": 500 << 20} {
		got, err := ParseSize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "k", "1.5m", "-1", "1t", "501m", "99999999999999999999"} {
		_, err := ParseSize(in)
		require.Error(t, err, in)
	}
}

// FuzzParseSettings: any link values either parse into settings that a listener can use, or
// give an error wrapping ErrSettings; never a panic.
func FuzzParseSettings(f *testing.F) {
	f.Add("address", "127.0.0.1:8080", "", "")
	f.Add("PORT", "8000", "", "")
	f.Add("", "", `{"address":"0.0.0.0:80","max_content_len":"10M","timeout_ms":5}`, "")
	f.Add("", "", "", base64.StdEncoding.EncodeToString([]byte(`{"cors":{"allowed_origins":["https://a"]},"readonly_mode":true}`)))
	f.Add("config_json", `{"address":"[::1]:1"}`, `{"max_content_len":12}`, "e30")
	f.Add("address", "1.2.3.4:", "{", "!!")
	f.Add("read_body_timeout_ms", "1500", `{"read_header_timeout_ms":86400001}`, "")
	f.Add("IDLE_TIMEOUT_MS", "0", `{"idle_timeout_ms":-1}`, "")
	f.Fuzz(func(t *testing.T, key, value, configJSON, configB64 string) {
		values := map[string]string{}
		if key != "" {
			values[key] = value
		}
		if configJSON != "" {
			values["config_json"] = configJSON
		}
		if configB64 != "" {
			values["config_b64"] = configB64
		}
		s, err := ParseSettings(values)
		if err != nil {
			if !strings.Contains(err.Error(), ErrSettings.Error()) {
				t.Fatalf("error does not wrap ErrSettings: %v", err)
			}
			return
		}
		again, err := contract.ParseAddress(s.Address)
		if err != nil || again.String() != s.Address {
			t.Fatalf("address %q does not re-parse to itself: %q, %v", s.Address, again, err)
		}
		if s.MaxContentLen < 0 || s.MaxContentLen > MaxContentLenLimit {
			t.Fatalf("max content length %d out of range", s.MaxContentLen)
		}
		for _, d := range []time.Duration{s.ReadHeaderTimeout, s.ReadBodyTimeout, s.IdleTimeout} {
			if d <= 0 || d > 24*time.Hour {
				t.Fatalf("connection timeout %s out of range: %+v", d, s)
			}
		}
		if s.Timeout < 0 || s.CORS.MaxAge < 0 {
			t.Fatalf("negative duration: %+v", s)
		}
		if s.CacheControl != "" && !validHeaderValue(s.CacheControl) {
			t.Fatalf("invalid cache control accepted: %q", s.CacheControl)
		}
	})
}
