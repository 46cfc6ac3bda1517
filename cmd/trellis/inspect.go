package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/oci"
)

type inspectFlags struct {
	reg     regFlags
	digest  string
	jwtOnly bool
	noCache bool
	out     outputFormat
}

func newInspectCmd() *cobra.Command {
	var f inspectFlags
	cmd := &cobra.Command{
		Use:   "inspect FILE|REF",
		Short: "Show the claims of an actor or a provider archive, from a file or an OCI registry",
		Long: `Show what an actor module or a provider archive carries, read from a file or pulled from the
OCI reference REF (REGISTRY/REPOSITORY:TAG[@DIGEST]) into memory: nothing is started, written
or cached.

An actor (.wasm): its claims (actor id, issuer, name, capabilities, tags, call alias, version and
revision, issued / expires / not before), the module hash and the claims' hash, the section they
were found in, and whether a host would take it (exit 1 when not, as ` + "`claims inspect`" + `).
A provider archive (.par.gz): its claims (provider id, issuer, name, contract id, vendor,
version, revision, validity) and every target with its hash, all verified (exit 1 when not, as
` + "`par inspect`" + `).

A REF is pulled with the rules of ` + "`reg pull`" + `: --insecure, --allow-latest, -u/--user and
-p/--password (or OCI_REGISTRY_USER/OCI_REGISTRY_PASSWORD, or the docker config); --digest
checks the manifest digest it resolves to. An existing file of that name wins over a reference.`,
		Example: `  trellis inspect build/actors/echo_s.wasm
  trellis inspect 127.0.0.1:5000/echo:0.1.0 --insecure -o json
  trellis inspect ghcr.io/org/httpserver:0.16.3 --digest sha256:…`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return inspect(cmd, args[0], &f) },
	}
	fs := cmd.Flags()
	f.reg.register(fs)
	fs.StringVarP(&f.digest, "digest", "d", "", "manifest digest (sha256:…) REF must resolve to")
	fs.BoolVar(&f.jwtOnly, "jwt-only", false, "print the raw claims JWT only")
	fs.BoolVar(&f.noCache, "no-cache", false, "accepted for wash's scripts: inspect never caches what it pulls")
	addOutputFlag(fs, &f.out)
	return cmd
}

// inspected is an artifact read for inspection.
type inspected struct {
	name   string        // the file or the reference
	data   []byte        // the module or the archive
	pulled *oci.Artifact // nil for a file
}

func loadInspected(cmd *cobra.Command, ref string, f *inspectFlags) (inspected, error) {
	if st, err := os.Stat(ref); err == nil {
		if !st.Mode().IsRegular() {
			return inspected{}, fmt.Errorf("inspect %s: not a regular file", ref)
		}
		if f.digest != "" {
			return inspected{}, fmt.Errorf("inspect %s: --digest is for an OCI reference, and %s is a file", ref, ref)
		}
		data, err := os.ReadFile(ref)
		if err != nil {
			return inspected{}, fmt.Errorf("inspect %s: %w", ref, err)
		}
		return inspected{name: ref, data: data}, nil
	}
	if _, err := lattice.ParseOCIRef(ref); err != nil {
		return inspected{}, fmt.Errorf("inspect %s: no such file, and not an OCI reference: %w", ref, err)
	}
	c, err := f.reg.client(ref)
	if err != nil {
		return inspected{}, err
	}
	a, err := pullVerified(cmd.Context(), c, ref, oci.KindAny, f.digest)
	if err != nil {
		return inspected{}, err
	}
	return inspected{name: ref, data: a.Data, pulled: a}, nil
}

func inspect(cmd *cobra.Command, ref string, f *inspectFlags) error {
	in, err := loadInspected(cmd, ref, f)
	if err != nil {
		return err
	}
	kind, err := oci.DetectKind(in.data)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", ref, err)
	}
	w := cmd.OutOrStdout()
	if kind == oci.KindProvider {
		par, err := lattice.ReadPAR(bytes.NewReader(in.data))
		if err != nil {
			return fmt.Errorf("inspect %s: %w", ref, err)
		}
		switch {
		case f.jwtOnly:
			_, err = fmt.Fprintln(w, par.Token)
			return err
		case f.out == outputJSON:
			return writeJSON(w, withPull(parInspectionJSON(in.name, par), in.pulled))
		}
		writePulled(w, in.pulled)
		return writePARInspection(w, in.name, par)
	}
	ins := lattice.InspectActor(in.data, time.Now())
	switch {
	case f.jwtOnly:
		if ins.Token == "" {
			return fmt.Errorf("inspect %s: %s", ref, orText(ins.Problem, "no claims in the module"))
		}
		_, err = fmt.Fprintln(w, ins.Token)
	case f.out == outputJSON:
		m := inspectionJSON(in.name, ins)
		m["kind"] = "actor"
		err = writeJSON(w, withPull(m, in.pulled))
	default:
		writePulled(w, in.pulled)
		err = writeInspection(w, in.name, ins)
	}
	if err != nil {
		return err
	}
	if !ins.Valid {
		return exitError{code: 1, silent: true, err: errors.New(ins.Problem)}
	}
	return nil
}

// withPull adds where a pulled artifact came from to its JSON.
func withPull(m map[string]any, a *oci.Artifact) map[string]any {
	if a != nil {
		m["ref"] = a.Ref.String()
		m["manifest_digest"] = a.ManifestDigest
		m["layer_digest"] = a.LayerDigest
		m["size"] = a.Size
	}
	return m
}

// writePulled says where a pulled artifact came from, before its claims.
func writePulled(w io.Writer, a *oci.Artifact) {
	if a != nil {
		fmt.Fprintf(w, "Pulled %s into memory: manifest %s, %s %s (%s); nothing started\n\n",
			a.Ref, a.ManifestDigest, kindName(a.Kind), a.LayerDigest, humanBytes(a.Size))
	}
}
