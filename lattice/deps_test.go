package lattice_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/trellis-lattice/trellis"

type goPackage struct {
	ImportPath string
	Deps       []string
}

// listDeps returns every package of the module with its transitive (non-test) dependencies.
func listDeps(t *testing.T, env ...string) []goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps=false", "-json=ImportPath,Deps", module+"/...")
	cmd.Env = append(cmd.Environ(), env...)
	out, err := cmd.Output()
	require.NoError(t, err, "go list")
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []goPackage
	for dec.More() {
		var p goPackage
		require.NoError(t, dec.Decode(&p))
		pkgs = append(pkgs, p)
	}
	require.NotEmpty(t, pkgs)
	return pkgs
}

// area is the top-level part of a project package path: "lattice", "host", "providers", …
func area(pkg string) (string, bool) {
	rest, ok := strings.CutPrefix(pkg, module+"/")
	if !ok {
		return "", false
	}
	return strings.SplitN(rest, "/", 2)[0], true
}

// TestDependencyDirection enforces DESIGN.md: lattice imports nothing of the project; oci (the
// registry client) imports lattice only, and only host and cmd use it; host, dashboard,
// providers, applier and reconciler import lattice but not each other (applier may use the
// providers SDK, host the oci client); only cmd wires them together.
func TestDependencyDirection(t *testing.T) {
	forbidden := map[string][]string{
		"lattice":    {"host", "oci", "providers", "applier", "dashboard", "reconciler", "actor", "cmd"},
		"oci":        {"host", "providers", "applier", "dashboard", "reconciler", "actor", "cmd"},
		"host":       {"providers", "applier", "dashboard", "reconciler", "cmd"},
		"dashboard":  {"host", "oci", "providers", "applier", "reconciler", "cmd"},
		"providers":  {"host", "oci", "applier", "dashboard", "reconciler", "cmd"},
		"applier":    {"host", "oci", "dashboard", "reconciler", "cmd"},
		"reconciler": {"host", "oci", "providers", "applier", "dashboard", "actor", "cmd"},
		"actor":      {"host", "oci", "providers", "applier", "dashboard", "reconciler", "cmd"},
	}
	for _, p := range listDeps(t) {
		from, _ := area(p.ImportPath)
		for _, dep := range p.Deps {
			to, ours := area(dep)
			if !ours {
				continue
			}
			if from == "oci" {
				require.Equal(t, "lattice", to, "%s imports %s: oci imports nothing of the project but lattice", p.ImportPath, dep)
			}
			for _, bad := range forbidden[from] {
				require.NotEqual(t, bad, to, "%s imports %s, against the dependency direction of DESIGN.md", p.ImportPath, dep)
			}
		}
	}
}

// TestGuestPackagesStayLight checks that actor and lattice/contracts build for wasip1 and pull in
// nothing of the project beyond the contracts and nothing third-party beyond a msgpack codec.
func TestGuestPackagesStayLight(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", module+"/actor/...", module+"/lattice/contracts/...")
	cmd.Env = append(cmd.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go list for wasip1: %s", out)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, std, _ := strings.Cut(line, " ")
		if std == "true" {
			continue
		}
		switch {
		case strings.HasPrefix(path, module+"/actor"), strings.HasPrefix(path, module+"/lattice/contracts/"):
		case strings.HasPrefix(path, "github.com/vmihailenco/"), strings.HasPrefix(path, "github.com/tinylib/msgp"), strings.HasPrefix(path, "github.com/philhofer/fwd"):
		default:
			t.Errorf("guest packages depend on %s: only the contracts and a msgpack codec are allowed", path)
		}
	}
}
