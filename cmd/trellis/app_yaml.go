package main

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/trellis-lattice/trellis/lattice/oam"
)

// manifestYAML writes a manifest as YAML (oam's MarshalYAML, indented by two like wadm's
// examples): what `app get` prints, which `app put` reads back as the same manifest.
func manifestYAML(m *oam.Manifest) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("manifest as yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("manifest as yaml: %w", err)
	}
	return b.Bytes(), nil
}
