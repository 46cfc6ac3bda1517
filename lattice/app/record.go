package app

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/trellis-lattice/trellis/lattice/oam"
)

// Record is one application: every version that was put, in order, and which one is deployed.
type Record struct {
	Name     string    `json:"name"`
	Versions []Version `json:"versions"`
	// Deployed is the deployed version; "" when the app is undeployed.
	Deployed string `json:"deployed,omitempty"`
	// Owner is who put the latest version: "" for a user (CLI, dashboard), or the owner name a
	// host was given with its app directories (e.g. "helm/RELEASE").
	Owner string `json:"owner,omitempty"`

	revision uint64 // KV revision the record was read at
}

// Version is one stored version of an app's manifest.
type Version struct {
	Version  string        `json:"version"`
	Manifest *oam.Manifest `json:"manifest"`
	PutAt    time.Time     `json:"put_at"`
	// DeployedAt is when this version was last deployed; zero when never.
	DeployedAt time.Time `json:"deployed_at,omitzero"`
}

// Find returns the version named v.
func (r *Record) Find(v string) (*Version, bool) {
	for i := range r.Versions {
		if r.Versions[i].Version == v {
			return &r.Versions[i], true
		}
	}
	return nil, false
}

// Version returns the version named v, or an error wrapping ErrNotFound that lists the versions
// there are.
func (r *Record) Version(v string) (*Version, error) {
	if ver, ok := r.Find(v); ok {
		return ver, nil
	}
	names := make([]string, len(r.Versions))
	for i, x := range r.Versions {
		names[i] = x.Version
	}
	return nil, fmt.Errorf("app %s: version %s: %w (versions: %s)", r.Name, v, ErrNotFound, strings.Join(names, ", "))
}

// Latest is the version put last; nil for a record without versions.
func (r *Record) Latest() *Version {
	if len(r.Versions) == 0 {
		return nil
	}
	return &r.Versions[len(r.Versions)-1]
}

// DeployedManifest is the manifest of the deployed version; nil when undeployed.
func (r *Record) DeployedManifest() *oam.Manifest {
	if r.Deployed == "" {
		return nil
	}
	if v, ok := r.Find(r.Deployed); ok {
		return v.Manifest
	}
	return nil
}

// sameManifest reports whether two manifests are the same once written canonically.
func sameManifest(a, b *oam.Manifest) bool {
	ca, err1 := a.Canonical()
	cb, err2 := b.Canonical()
	return err1 == nil && err2 == nil && bytes.Equal(ca, cb)
}
