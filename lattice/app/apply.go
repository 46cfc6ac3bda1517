package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/trellis-lattice/trellis/lattice/oam"
)

// Applied says what Apply did with one app.
type Applied struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Action is "deployed" (a new version, or one not deployed before), "unchanged" or
	// "undeployed" (owned by the owner, no longer among the manifests).
	Action string `json:"action"`
}

// Apply makes the manifests the deployed versions of their apps, owned by owner, and undeploys
// every other app owned by owner: what a host does at start with its app directories (the Helm
// chart's apps value). It is idempotent, so every host of a release may run it. Manifests must
// have distinct names.
func (s *Store) Apply(ctx context.Context, manifests []*oam.Manifest, owner string) ([]Applied, error) {
	if owner == "" {
		return nil, errors.New("apply apps: an owner is required")
	}
	seen := map[string]bool{}
	for _, m := range manifests {
		if seen[m.Metadata.Name] {
			return nil, fmt.Errorf("apply apps: app %s is given twice", m.Metadata.Name)
		}
		seen[m.Metadata.Name] = true
	}
	var out []Applied
	var errs []error
	for _, m := range manifests {
		put, err := s.Put(ctx, m, owner)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		before, err := s.Get(ctx, put.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		action := "unchanged"
		if before.Deployed != put.Version {
			if _, err := s.Deploy(ctx, put.Name, put.Version); err != nil {
				errs = append(errs, err)
				continue
			}
			action = "deployed"
		}
		out = append(out, Applied{Name: put.Name, Version: put.Version, Action: action})
	}
	all, err := s.List(ctx)
	if err != nil && all == nil {
		return out, errors.Join(append(errs, err)...)
	}
	for _, r := range all {
		if r.Owner != owner || seen[r.Name] || r.Deployed == "" {
			continue
		}
		if err := s.Undeploy(ctx, r.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, Applied{Name: r.Name, Version: r.Deployed, Action: "undeployed"})
	}
	return out, errors.Join(errs...)
}
