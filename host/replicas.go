package host

import (
	"context"
	"time"

	"github.com/trellis-lattice/trellis/lattice"
)

// openChunks makes the chunk store at start, with this host's replicas, rather than leaving it
// to whichever side first sends a large payload (a provider would make it with one replica). A
// failure only logs: the store is tried again at the first large payload.
func (h *Host) openChunks(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := h.chunks.Open(ctx); err != nil && ctx.Err() == nil {
		h.log.Warn().Err(err).Msg("chunk store not opened at start: it is tried again at the first large payload")
	}
}

// checkReplicas looks, once the host serves, at every bucket of the lattice that exists: one with
// fewer replicas than JSReplicas is reported (a warning and a bucket_replicas_low event), or,
// with JSRaiseReplicas, raised (bucket_replicas_raised). One with more is left as it is. A check
// that cannot read a bucket only logs.
func (h *Host) checkReplicas(ctx context.Context) {
	want := h.cfg.JSReplicas
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, b := range h.subj.Buckets() {
		st, err := lattice.BucketStateOf(ctx, h.js, b)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			h.log.Warn().Err(err).Msg("replica check")
			continue
		}
		if !st.Below(want) {
			continue
		}
		data := lattice.BucketReplicasData{Bucket: b.Name, Stream: st.Stream, Replicas: st.Replicas, Want: want}
		log := h.log.With().Str("bucket", b.Name).Int("replicas", st.Replicas).Int("want", want).Logger()
		if !h.cfg.JSRaiseReplicas {
			log.Warn().Msgf("lattice bucket %s has %d replicas, fewer than the %d asked for (--js-replicas): raise it with --js-raise-replicas or `trellis lattice replicas %d`",
				b.Name, st.Replicas, want, want)
			h.publish(lattice.EventBucketReplicasLow, data)
			continue
		}
		if _, err := lattice.RaiseReplicas(ctx, h.js, b, want); err != nil {
			log.Error().Err(err).Msg("lattice bucket replicas not raised")
			data.Error = err.Error()
			h.publish(lattice.EventBucketReplicasLow, data)
			continue
		}
		log.Info().Msgf("lattice bucket %s raised from %d to %d replicas", b.Name, st.Replicas, want)
		h.publish(lattice.EventBucketReplicasRaised, data)
	}
}
