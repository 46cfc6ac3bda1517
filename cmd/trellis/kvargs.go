package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseKeyValues reads KEY=VALUE arguments strictly: every argument needs a '=' after a
// non-empty key; the value is everything after the first '=' and may be empty. what names the
// arguments in errors ("link value", "label"). A repeated key is an error.
func parseKeyValues(what string, args []string) (map[string]string, error) {
	m := make(map[string]string, len(args))
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("%s %q: want KEY=VALUE", what, a)
		case strings.TrimSpace(k) == "":
			return nil, fmt.Errorf("%s %q: empty key before '='", what, a)
		case strings.ContainsAny(k, " \t\r\n"):
			return nil, fmt.Errorf("%s %q: key %q contains white space", what, a, k)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%s %q: key %q given twice", what, a, k)
		}
		m[k] = v
	}
	return m, nil
}

// millis is a duration flag that also accepts a bare number of milliseconds, so wasmCloud's
// *_MS environment variables (WASMCLOUD_RPC_TIMEOUT_MS=2000) work as fallbacks.
type millis time.Duration

func (m *millis) String() string { return time.Duration(*m).String() }
func (m *millis) Type() string   { return "duration" }
func (m *millis) Set(s string) error {
	if n, err := strconv.ParseUint(s, 10, 63); err == nil {
		*m = millis(time.Duration(n) * time.Millisecond)
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is neither a duration (2s) nor a number of milliseconds", s)
	}
	if d < 0 {
		return fmt.Errorf("%q: must not be negative", s)
	}
	*m = millis(d)
	return nil
}
