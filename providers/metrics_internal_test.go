package providers

import (
	"strings"
	"testing"
)

// FuzzMetricsAddr feeds arbitrary configurations to the metrics_addr reader: it never panics,
// an address it returns is non-empty and trimmed, and an error names the key.
func FuzzMetricsAddr(f *testing.F) {
	for _, s := range []string{"", "{}", `{"metrics_addr": ":9091"}`, `{"metrics_addr": 9091}`, `{"metrics_addr": " "}`,
		`{"metrics_addr": null}`, "not json", `["metrics_addr"]`, `{"address": "0.0.0.0:8080", "metrics_addr": "127.0.0.1:0"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, config string) {
		addr, err := metricsAddr(config)
		if err != nil {
			if addr != "" || !strings.Contains(err.Error(), MetricsAddrKey) {
				t.Fatalf("metricsAddr(%q) = %q, %v", config, addr, err)
			}
			return
		}
		if addr != strings.TrimSpace(addr) {
			t.Fatalf("metricsAddr(%q) = %q: not trimmed", config, addr)
		}
	})
}

func TestMetricsAddrParse(t *testing.T) {
	for _, tc := range []struct{ config, want, err string }{
		{"", "", ""},
		{`{"metrics_addr": " :9091 "}`, ":9091", ""},
		{`{"other": true}`, "", ""},
		{"not json", "", ""},
		{`{"metrics_addr": 9091}`, "", "metrics_addr"},
		{`{"metrics_addr": null}`, "", "metrics_addr"},
	} {
		got, err := metricsAddr(tc.config)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("metricsAddr(%q): error %v, want one naming %s", tc.config, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("metricsAddr(%q) = %q, %v; want %q", tc.config, got, err, tc.want)
		}
	}
}
