package lattice_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/applier"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/contracts/keyvalue"
	"github.com/trellis-lattice/trellis/lattice/contracts/messaging"
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

// TestWireTypesLiveInLattice keeps the provider wire vocabulary in one place (CONVENTIONS.md: one
// shape per concept). The non-test files of providers/... and applier/... must not:
//   - declare a type named like a lattice wire type of the provider protocol (Health, HealthReply,
//     HealthRequest, ShutdownRequest, LinkAck, Ack);
//   - declare a struct type, named or anonymous, whose fields' wire names (json, else msgpack tag
//     names, every field tagged) are the same set as those of a struct type lattice declares: a
//     copy of a lattice wire type under another name;
//   - declare a constant whose value is a lattice provider state, the shutdown ack text or a
//     contract id, or spell a contract id as a string literal anywhere: use the lattice names.
func TestWireTypesLiveInLattice(t *testing.T) {
	latticeShapes := map[string]string{} // wire-name set → lattice type
	for _, f := range parseDir(t, ".") {
		ast.Inspect(f.file, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				if st, ok := ts.Type.(*ast.StructType); ok {
					if shape := wireShape(st); shape != "" {
						latticeShapes[shape] = ts.Name.Name
					}
				}
			}
			return true
		})
	}
	require.Contains(t, latticeShapes, "healthy,message", "the rule must see lattice.HealthReply")
	require.Contains(t, latticeShapes, "host_id", "the rule must see lattice.ShutdownRequest")

	names := map[string]bool{"Health": true, "HealthReply": true, "HealthRequest": true, "ShutdownRequest": true, "LinkAck": true, "Ack": true}
	constValues := map[string]bool{
		lattice.ProviderStarting: true, lattice.ProviderRunning: true, lattice.ProviderRestarting: true,
		lattice.ProviderStopping: true, lattice.ShutdownAck: true,
	}
	contractIDs := map[string]bool{httpserver.ContractID: true, keyvalue.ContractID: true, messaging.ContractID: true, applier.ContractID: true}
	for id := range contractIDs {
		constValues[id] = true
	}

	var files []parsedFile
	for _, root := range []string{"../providers", "../applier"} {
		require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() || d.Name() == "testdata" {
				return err
			}
			files = append(files, parseDir(t, path)...)
			return nil
		}))
	}
	require.NotEmpty(t, files)
	for _, f := range files {
		ast.Inspect(f.file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.TypeSpec:
				if names[n.Name.Name] {
					t.Errorf("%s: type %s: the provider wire types live in lattice; use lattice's", f.pos(n), n.Name.Name)
				}
			case *ast.StructType:
				if lt, ok := latticeShapes[wireShape(n)]; ok {
					t.Errorf("%s: a struct with the wire fields of lattice.%s {%s}: use lattice.%s", f.pos(n), lt, wireShape(n), lt)
				}
			case *ast.ValueSpec:
				if f.isConst(n) {
					for _, v := range n.Values {
						if s, ok := stringLit(v); ok && constValues[s] {
							t.Errorf("%s: constant %q: lattice has it; use lattice's name", f.pos(n), s)
						}
					}
				}
			case *ast.BasicLit:
				if s, ok := stringLit(n); ok && contractIDs[s] {
					t.Errorf("%s: contract id %q spelled again: use the ContractID of lattice/contracts", f.pos(n), s)
				}
			}
			return true
		})
	}
}

type parsedFile struct {
	fset   *token.FileSet
	file   *ast.File
	consts map[*ast.ValueSpec]bool
}

func (f parsedFile) pos(n ast.Node) token.Position { return f.fset.Position(n.Pos()) }

func (f parsedFile) isConst(v *ast.ValueSpec) bool { return f.consts[v] }

// parseDir parses the non-test Go files of one directory.
func parseDir(t *testing.T, dir string) []parsedFile {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []parsedFile
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		pf := parsedFile{fset: fset, file: file, consts: map[*ast.ValueSpec]bool{}}
		ast.Inspect(file, func(n ast.Node) bool {
			if g, ok := n.(*ast.GenDecl); ok && g.Tok == token.CONST {
				for _, s := range g.Specs {
					pf.consts[s.(*ast.ValueSpec)] = true
				}
			}
			return true
		})
		out = append(out, pf)
	}
	return out
}

// wireShape is the sorted, comma-joined wire names of a struct's fields (json tag name, else
// msgpack), or "" when a field has neither (then it is not a wire type).
func wireShape(st *ast.StructType) string {
	var wire []string
	for _, fld := range st.Fields.List {
		if fld.Tag == nil {
			return ""
		}
		tag, err := strconv.Unquote(fld.Tag.Value)
		if err != nil {
			return ""
		}
		st := reflect.StructTag(tag)
		name := st.Get("json")
		if name == "" {
			name = st.Get("msgpack")
		}
		name, _, _ = strings.Cut(name, ",")
		if name == "" || name == "-" {
			return ""
		}
		for range max(len(fld.Names), 1) {
			wire = append(wire, name)
		}
	}
	if len(wire) == 0 {
		return ""
	}
	slices.Sort(wire)
	return strings.Join(wire, ",")
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}
