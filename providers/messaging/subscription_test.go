package messaging_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/providers/messaging"
)

func TestParseSubscriptions(t *testing.T) {
	type sub = messaging.Subscription
	tests := []struct {
		in   string
		want []sub
		err  string
	}{
		{in: "", want: nil},
		{in: " , ,", want: nil},
		{in: "orders", want: []sub{{Subject: "orders"}}},
		{in: "a.b, c.*|workers ,d.>", want: []sub{{Subject: "a.b"}, {Subject: "c.*", Queue: "workers"}, {Subject: "d.>"}}},
		{in: "a | q", want: []sub{{Subject: "a", Queue: "q"}}},
		{in: ">", want: []sub{{Subject: ">"}}},
		{in: "*.*.x", want: []sub{{Subject: "*.*.x"}}},
		{in: "a,a", want: []sub{{Subject: "a"}, {Subject: "a"}}},
		{in: "ünï.cödé|grüppe", want: []sub{{Subject: "ünï.cödé", Queue: "grüppe"}}},
		{in: "a..b", err: `subscription 1 "a..b": subject has an empty token`},
		{in: "ok,.a", err: `subscription 2 ".a": subject has an empty token`},
		{in: "a.", err: "empty token"},
		{in: "a b", err: "whitespace"},
		{in: "a\tb", err: "whitespace"},
		{in: "a.>.b", err: `">" before its last token`},
		{in: "a.b*", err: `token "b*" mixes a wildcard`},
		{in: "a.>x", err: "mixes a wildcard"},
		{in: "|q", err: "empty subject"},
		{in: "a|", err: `empty queue group after "|"`},
		{in: "a|q|r", err: `queue group "q|r" has a "|"`},
		{in: "a|q r", err: "whitespace"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := messaging.ParseSubscriptions(tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func FuzzParseSubscriptions(f *testing.F) {
	for _, s := range []string{"", "a", "a.b,c.*|q", "a..b", ">", "a.>.b", "a|", "x|q|r", " a , b |c ", "a\tb", "*.*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		subs, err := messaging.ParseSubscriptions(in)
		if err != nil {
			return
		}
		parts := make([]string, len(subs))
		for i, s := range subs {
			if s.Subject == "" || strings.ContainsAny(s.Subject, " \t\r\n,|") {
				t.Fatalf("%q: accepted subject %q", in, s.Subject)
			}
			if strings.ContainsAny(s.Queue, " \t\r\n,|") {
				t.Fatalf("%q: accepted queue %q", in, s.Queue)
			}
			for _, tok := range strings.Split(s.Subject, ".") {
				if tok == "" || (len(tok) > 1 && strings.ContainsAny(tok, "*>")) {
					t.Fatalf("%q: accepted subject %q with token %q", in, s.Subject, tok)
				}
			}
			parts[i] = s.String()
		}
		// What was accepted renders back to a value that parses to the same subscriptions.
		again, err := messaging.ParseSubscriptions(strings.Join(parts, ","))
		if err != nil {
			t.Fatalf("%q: rendering %q does not parse: %v", in, strings.Join(parts, ","), err)
		}
		if len(again) != len(subs) {
			t.Fatalf("%q: %v became %v", in, subs, again)
		}
		for i := range subs {
			if subs[i] != again[i] {
				t.Fatalf("%q: %v became %v", in, subs, again)
			}
		}
	})
}

func FuzzParseConnectionConfig(f *testing.F) {
	for _, s := range []string{"", "  ", "{}", `{"subscriptions":["a","b|q"],"cluster_uris":["nats://x:4222"],"auth_jwt":"j","auth_seed":"s"}`,
		`{"subscriptions":"x"}`, `{"subscriptions":["a..b"]}`, `[1]`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c, err := messaging.ParseConnectionConfig(in)
		if err != nil {
			return
		}
		for _, s := range c.Subscriptions {
			if _, err := messaging.ParseSubscriptions(s); err != nil {
				t.Fatalf("%q: accepted subscriptions %q: %v", in, s, err)
			}
		}
	})
}
