package host

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/providers"
)

// TestLineLogKeepsProviderLevelsAndFields feeds lineLog what a provider's own logger writes
// (structured_logging on, as the host asks) and a plain line, split across writes.
func TestLineLogKeepsProviderLevelsAndFields(t *testing.T) {
	var out bytes.Buffer
	l := &lineLog{log: zerolog.New(&out).With().Str("component", "host").Str("provider", "VXYZ").Logger()}
	plog := providers.NewLogger(l, lattice.HostData{StructuredLogging: true, LogLevel: "debug"}).
		With().Str("component", "provider").Str("provider", "VXYZ").Logger()

	plog.Warn().Str("address", "0.0.0.0:8080").Msg("listener busy")
	plog.Debug().Msg("detail")
	_, _ = l.Write([]byte("plain text from a provider\n{not json"))
	_, _ = l.Write([]byte("}\n"))
	_, _ = l.Write([]byte(`{"level":"WARNING","fields":{"message":"from tracing","x":1},"target":"p"}` + "\n"))

	var got []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "host log line %q", line)
		got = append(got, m)
	}
	require.Len(t, got, 5)
	require.Equal(t, map[string]any{"level": "warn", "component": "host", "provider": "VXYZ", "address": "0.0.0.0:8080", "message": "listener busy"}, got[0])
	require.Equal(t, "debug", got[1]["level"])
	require.Equal(t, "detail", got[1]["message"])
	require.Equal(t, map[string]any{"level": "info", "component": "host", "provider": "VXYZ", "message": "plain text from a provider"}, got[2])
	require.Equal(t, "{not json}", got[3]["message"])
	require.Equal(t, "warn", got[4]["level"])
	require.Equal(t, "from tracing", got[4]["message"])
	require.Equal(t, map[string]any{"x": 1.0}, got[4]["fields"])
}
