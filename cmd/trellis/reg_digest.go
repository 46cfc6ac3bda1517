package main

import (
	"context"
	"fmt"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/oci"
)

// pullVerified pulls ref of kind want with c and, when digest is not empty, checks that the
// manifest it resolved to is that digest (wash's --digest): a tag that moved, or a registry that
// serves something else, is refused with both digests named, and nothing is returned.
func pullVerified(ctx context.Context, c *oci.Client, ref string, want oci.Kind, digest string) (*oci.Artifact, error) {
	if digest != "" {
		if err := lattice.CheckDigest(digest); err != nil {
			return nil, fmt.Errorf("pull %s: --digest %q: %w", ref, digest, err)
		}
		if r, err := lattice.ParseOCIRef(ref); err == nil && r.Digest != "" && r.Digest != digest {
			return nil, fmt.Errorf("pull %s: the reference pins %s but --digest says %s", ref, r.Digest, digest)
		}
	}
	a, err := c.Pull(ctx, ref, want, nil)
	if err != nil {
		return nil, err
	}
	if digest != "" && a.ManifestDigest != digest {
		return nil, fmt.Errorf("pull %s: digest mismatch: the reference resolved to manifest %s, not %s (--digest); nothing written", ref, a.ManifestDigest, digest)
	}
	return a, nil
}
