package applier_test

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/applier"
)

func TestParseConfigJSON(t *testing.T) {
	kc := base64.StdEncoding.EncodeToString([]byte("apiVersion: v1\nkind: Config\n"))
	for _, tc := range []struct {
		name string
		raw  string
		want func(*applier.Config)
	}{
		{"empty keeps the defaults", "", func(*applier.Config) {}},
		{"whitespace keeps the defaults", "  \n", func(*applier.Config) {}},
		{"every key", `{"namespace":"app","config_b64":"` + kc + `","selector":{"tier":"hosts"},"resync":"45s","disable_services":true,"field_manager":"me"}`,
			func(c *applier.Config) {
				c.Namespace = "app"
				c.Kubeconfig = []byte("apiVersion: v1\nkind: Config\n")
				c.Selector = map[string]string{"tier": "hosts"}
				c.Resync = 45 * time.Second
				c.DisableServices = true
				c.FieldManager = "me"
			}},
		{"keys in any case, resync in seconds", `{"Namespace":"app","RESYNC":90,"config_file":"/k"}`, func(c *applier.Config) {
			c.Namespace = "app"
			c.Resync = 90 * time.Second
			c.KubeconfigFile = "/k"
		}},
		{"resync as a string of seconds", `{"resync":"2.5"}`, func(c *applier.Config) { c.Resync = 2500 * time.Millisecond }},
		{"unpadded base64", `{"config_b64":"` + base64.RawStdEncoding.EncodeToString([]byte("x")) + `"}`, func(c *applier.Config) {
			c.Kubeconfig = []byte("x")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := applier.DefaultConfig()
			tc.want(&want)
			got, err := applier.ParseConfigJSON(applier.DefaultConfig(), tc.raw)
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}

	for _, tc := range []struct{ raw, want string }{
		{`{"namespce":"app"}`, `unknown field "namespce"`},
		{`[1]`, "not a JSON object of known settings"},
		{`{"namespace":"app"} {}`, "trailing data"},
		{`{"namespace":"Not_A_Namespace"}`, `namespace "Not_A_Namespace"`},
		{`{"config_b64":"!!"}`, "config_b64: not base64"},
		{`{"config_b64":"eA==","config_file":"/k"}`, "config_b64 and config_file are both set"},
		{`{"selector":{}}`, "selector: empty"},
		{`{"selector":{"a b":"c"}}`, `selector key "a b"`},
		{`{"selector":{"a":"not valid!"}}`, `selector a value "not valid!"`},
		{`{"resync":"soon"}`, `resync: "soon": want a duration`},
		{`{"resync":true}`, "resync: true: want a duration"},
		{`{"resync":"10ms"}`, "resync 10ms: must be at least 1s"},
		{`{"resync":-5}`, "out of range"},
		{`{"field_manager":" "}`, "field_manager: empty"},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			_, err := applier.ParseConfigJSON(applier.DefaultConfig(), tc.raw)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestParseConfigJSONReplacesTheKubeconfig(t *testing.T) {
	base := applier.DefaultConfig()
	base.KubeconfigFile = "/from/base"
	got, err := applier.ParseConfigJSON(base, `{"config_b64":"eA=="}`)
	require.NoError(t, err)
	require.Equal(t, []byte("x"), got.Kubeconfig)
	require.Empty(t, got.KubeconfigFile)
}

func FuzzParseConfigJSON(f *testing.F) {
	f.Add(`{"namespace":"app","resync":"30s","selector":{"a":"b"}}`)
	f.Add(`{"config_b64":"eA==","resync":12.5}`)
	f.Add(`{"disable_services":true}`)
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := applier.ParseConfigJSON(applier.DefaultConfig(), raw)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseConfigJSON returned an invalid config: %v", err)
		}
	})
}
