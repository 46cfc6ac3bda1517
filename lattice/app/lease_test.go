package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// TestLease: one holder at a time; renewals keep it and its since; a release hands it over at
// once; a holder that stops renewing loses it after the TTL.
func TestLease(t *testing.T) {
	ctx := context.Background()
	js := latticetest.JetStream(t, latticetest.Connect(t, latticetest.RunNATS(t)))
	a, err := app.OpenLease(ctx, js, "test", "NA", time.Second, 1)
	require.NoError(t, err)
	b, err := app.OpenLease(ctx, js, "test", "NB", 5*time.Second, 1)
	require.NoError(t, err)
	require.Equal(t, time.Second, b.TTL(), "an existing bucket keeps its TTL")

	_, held, err := app.CurrentHolder(ctx, js, "test")
	require.NoError(t, err)
	require.False(t, held)

	ok, err := a.Acquire(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	first, held, err := app.CurrentHolder(ctx, js, "test")
	require.NoError(t, err)
	require.True(t, held)
	require.Equal(t, "NA", first.Holder)
	ok, err = b.Acquire(ctx)
	require.NoError(t, err)
	require.False(t, ok, "taken")
	ok, err = a.Acquire(ctx)
	require.NoError(t, err)
	require.True(t, ok, "renewed")
	renewed, _, err := app.CurrentHolder(ctx, js, "test")
	require.NoError(t, err)
	require.Equal(t, first.Since, renewed.Since, "a renewal keeps since")

	require.NoError(t, a.Release(ctx))
	ok, err = b.Acquire(ctx)
	require.NoError(t, err)
	require.True(t, ok, "released: the next one takes it at once")

	// b stops renewing: after the TTL, a gets it.
	require.Eventually(t, func() bool {
		ok, err := a.Acquire(ctx)
		return err == nil && ok
	}, 10*time.Second, 100*time.Millisecond)
	ok, err = b.Acquire(ctx)
	require.NoError(t, err)
	require.False(t, ok, "b lost it")
	require.False(t, b.Held())

	_, err = app.OpenLease(ctx, js, "other", "NA", 100*time.Millisecond, 1)
	require.ErrorContains(t, err, "under a second")
}
