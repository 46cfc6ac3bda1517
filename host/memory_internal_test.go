package host

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// wasmModule is a module with one memory of min pages, exported as "memory" when export is set.
func wasmModule(min byte, export bool) []byte {
	b := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	b = append(b, 0x05, 0x03, 0x01, 0x00, min) // memory section: one memory, no max
	if export {
		b = append(b, 0x07, 0x0a, 0x01, 0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00)
	}
	return b
}

func TestDeclaredMemoryIsChecked(t *testing.T) {
	h := runtimeHost(t)
	h.rt.maxPages = 40
	ctx := context.Background()

	_, err := h.rt.compile(ctx, wasmModule(41, true))
	require.ErrorIs(t, err, ErrMemoryLimit)
	require.ErrorContains(t, err, "module memory starts at 41 pages, over this host's limit of 40 pages")

	_, err = h.rt.compile(ctx, wasmModule(1, false))
	require.ErrorContains(t, err, "module memory is not exported")

	// Within the limit the memory passes (and the module is refused for what it lacks).
	_, err = h.rt.compile(ctx, wasmModule(40, true))
	require.ErrorContains(t, err, "does not export __guest_call")

	mins, err := memoryMinimums(wasmModule(7, true))
	require.NoError(t, err)
	require.Equal(t, []uint64{7}, mins)
	_, err = memoryMinimums([]byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x05, 0x09})
	require.ErrorContains(t, err, "malformed section header")
}
