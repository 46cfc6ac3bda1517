package lattice

// EventImagePullProgress is a Trellis extension (docs/compat.md): a host pulling an artifact from
// an OCI registry reports how far it got, a few times a second at most and once at the end, so
// `ctl start` can show it. Old clients ignore it.
const EventImagePullProgress = "image_pull_progress"

// ImagePullProgressData is the data of image_pull_progress. ImageRef is the reference as the
// command gave it (the same string actor_started or provider_started will carry); Bytes of Total
// have been downloaded. Cached is true when the layer came from the host's cache.
type ImagePullProgressData struct {
	ImageRef string `json:"image_ref"`
	Digest   string `json:"digest,omitempty"`
	Bytes    int64  `json:"bytes"`
	Total    int64  `json:"total"`
	Cached   bool   `json:"cached,omitempty"`
}
