package providers_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/providers"
)

// The SDK refuses an invocation one byte over its MaxInvocationBytes, inline and chunked (before
// the chunk is read), with an error the caller sees; the limit itself passes, and the provider
// keeps serving.
func TestInvocationPayloadLimit(t *testing.T) {
	tests := []struct {
		name  string
		limit int64
	}{
		{"inline", 1000},
		{"chunked", lattice.MaxInlinePayload + 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := providers.DefaultConfig(echoContract)
			cfg.MaxInvocationBytes = tt.limit
			r := newRigWith(t, newEcho(), nil, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
			ack := r.put(t, r.link(actor, nil))
			require.True(t, ack.Accepted, ack.Error)

			caller := lattice.NewCaller(r.nc, r.cluster, r.hd.HostID, r.subj, lattice.NewChunks(r.nc, "", "sdk", lattice.ChunkLimits{}, zerolog.Nop()), 10*time.Second)
			origin := lattice.Entity{PublicKey: actor}
			target := lattice.Entity{PublicKey: r.hd.ProviderKey, ContractID: echoContract, LinkName: r.hd.LinkName}
			msg := bytes.Repeat([]byte{'x'}, int(tt.limit))
			out, err := caller.Call(ctx, origin, target, "Echo.Echo", msg)
			require.NoError(t, err)
			require.Equal(t, msg, out)

			_, err = caller.Call(ctx, origin, target, "Echo.Echo", append(msg, 'x'))
			require.ErrorIs(t, err, lattice.ErrInvocation)
			require.ErrorContains(t, err, fmt.Sprintf("payload of %d bytes: payload over the limit of %d bytes", tt.limit+1, tt.limit))

			out, err = caller.Call(ctx, origin, target, "Echo.Echo", []byte("still here"))
			require.NoError(t, err)
			require.Equal(t, "still here", string(out))
		})
	}
}
