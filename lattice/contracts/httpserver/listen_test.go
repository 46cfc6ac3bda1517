package httpserver_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver/httpservertest"
)

// TestListenAddress runs the shared table (httpservertest) against the rule itself; the
// httpserver provider's TestSettingsListenAddress and the applier's TestServicePortListenCases
// run the same table against their sides.
func TestListenAddress(t *testing.T) {
	for _, tc := range httpservertest.ListenCases() {
		t.Run(tc.Name, func(t *testing.T) {
			addr, err := httpserver.ListenAddress(tc.Values)
			if tc.Error != "" {
				require.ErrorIs(t, err, httpserver.ErrLinkValues)
				require.ErrorContains(t, err, tc.Error)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.Address, addr.String())
			reach := httpserver.ServiceReachable(addr)
			if tc.Reachable {
				require.NoError(t, reach)
			} else {
				require.ErrorIs(t, reach, httpserver.ErrUnreachable)
			}
		})
	}
}

// FuzzListenAddress: any values give an address or an error wrapping ErrLinkValues; an address
// the rule gives parses back to itself.
func FuzzListenAddress(f *testing.F) {
	for _, tc := range httpservertest.ListenCases() {
		for k, v := range tc.Values {
			f.Add(k, v)
		}
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		addr, err := httpserver.ListenAddress(map[string]string{key: value})
		if err != nil {
			if !errors.Is(err, httpserver.ErrLinkValues) {
				t.Fatalf("error does not wrap ErrLinkValues: %v", err)
			}
			return
		}
		back, err := httpserver.ParseAddress(addr.String())
		if err != nil || back != addr {
			t.Fatalf("address %s does not parse back: %v %v", addr, back, err)
		}
	})
}
