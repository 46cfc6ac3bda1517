package main

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-lattice/trellis/lattice"
)

func newParCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "par",
		Short: "Create and inspect provider archives (.par.gz)",
	}
	cmd.AddCommand(newParCreateCmd(), newParInspectCmd(), newParInsertCmd())
	return cmd
}

type parFlags struct {
	capid, name, vendor, ver string
	rev                      int
	binaries                 []string
	issuer, subject          string
	destination              string
	out                      outputFormat
}

func newParCreateCmd() *cobra.Command {
	var f parFlags
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Sign provider binaries into a provider archive",
		Long: `Write a provider archive: a gzip'd tar with signed claims (claims.jwt) and one binary per
target, named like x86_64-linux.bin. Give --binary once per target as TARGET=PATH, or as PATH
alone for this machine's target (` + lattice.TargetName(runtime.GOOS, runtime.GOARCH) + `).

The issuer is --issuer, else the keystore account key; the subject (the provider id) is --subject,
else the keystore service key <name>_service.nk, made the first time and reused so the provider
keeps its id.`,
		Example: `  trellis par create --capid wasmcloud:httpserver --name httpserver --vendor Trellis \
    --binary x86_64-linux=build/httpserver-amd64 --binary aarch64-linux=build/httpserver-arm64`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return createPAR(cmd, &f) },
	}
	fs := cmd.Flags()
	fs.StringVar(&f.capid, "capid", "", "contract id the provider implements, e.g. wasmcloud:httpserver (required)")
	fs.StringVarP(&f.name, "name", "n", "", "provider name (required)")
	fs.StringVar(&f.vendor, "vendor", "", "vendor (required)")
	fs.StringVarP(&f.ver, "ver", "v", "", "human-readable version, e.g. 0.1.0")
	fs.IntVarP(&f.rev, "rev", "r", 0, "revision number")
	fs.StringArrayVarP(&f.binaries, "binary", "b", nil, "TARGET=PATH or PATH (repeatable, at least one)")
	fs.StringVar(&f.issuer, "issuer", "", "account seed (SA…) or a file holding it (default: the keystore account key)")
	fs.StringVar(&f.subject, "subject", "", "service seed (SV…) or a file holding it (default: the keystore service key of --name)")
	fs.StringVarP(&f.destination, "destination", "d", "", "where to write the archive (default: NAME.par.gz)")
	addOutputFlag(fs, &f.out)
	for _, name := range []string{"capid", "name", "vendor", "binary"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func createPAR(cmd *cobra.Command, f *parFlags) error {
	for flag, v := range map[string]string{"capid": f.capid, "name": f.name, "vendor": f.vendor} {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("par create: --%s is empty", flag)
		}
	}
	targets := map[string][]byte{}
	for _, b := range f.binaries {
		target, path, ok := strings.Cut(b, "=")
		if !ok {
			target, path = lattice.TargetName(runtime.GOOS, runtime.GOARCH), b
		}
		if target == "" || path == "" {
			return fmt.Errorf("par create: --binary %q: want TARGET=PATH or PATH", b)
		}
		if _, dup := targets[target]; dup {
			return fmt.Errorf("par create: --binary: target %s given twice", target)
		}
		bin, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("par create: target %s: %w", target, err)
		}
		targets[target] = bin
	}
	ks, err := defaultKeyStore()
	if err != nil {
		return err
	}
	notices := cmd.ErrOrStderr()
	issuer, err := signingKey(ks, notices, "issuer", f.issuer, "", accountKeyName(), lattice.PrefixAccount)
	if err != nil {
		return fmt.Errorf("par create: %w", err)
	}
	subject, err := signingKey(ks, notices, "subject", f.subject, "", moduleKeyName(f.name), lattice.PrefixService)
	if err != nil {
		return fmt.Errorf("par create: %w", err)
	}
	meta := lattice.ProviderMetadata{Name: f.name, CapID: f.capid, Vendor: f.vendor, Ver: f.ver, Rev: f.rev}
	var buf bytes.Buffer
	claims, err := lattice.WritePAR(&buf, issuer, subject, meta, targets, lattice.SignOptions{})
	if err != nil {
		return fmt.Errorf("par create: %w", err)
	}
	dest := f.destination
	if dest == "" {
		dest = moduleKeyName(f.name) + ".par.gz"
	}
	if err := os.WriteFile(dest, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("par create: write %s: %w", dest, err)
	}
	names := slices.Sorted(maps.Keys(targets))
	w := cmd.OutOrStdout()
	if f.out == outputJSON {
		return writeJSON(w, map[string]any{"file": dest, "provider_id": claims.Subject, "issuer": claims.Issuer,
			"name": f.name, "capid": f.capid, "targets": names})
	}
	fmt.Fprintf(w, "Wrote %s\n  provider id: %s\n  issuer:      %s\n  contract:    %s\n  targets:     %s\n",
		dest, claims.Subject, claims.Issuer, f.capid, strings.Join(names, ", "))
	return nil
}

func newParInspectCmd() *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Verify a provider archive and show its claims and targets",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("par inspect: %w", err)
			}
			defer f.Close()
			par, err := lattice.ReadPAR(f)
			if err != nil {
				return exitError{code: 1, err: fmt.Errorf("par inspect %s: %w", args[0], err)}
			}
			if out == outputJSON {
				return writeJSON(cmd.OutOrStdout(), parInspectionJSON(args[0], par))
			}
			return writePARInspection(cmd.OutOrStdout(), args[0], par)
		},
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

// parInspectionJSON is what `par inspect` and `inspect` print of a verified archive with -o json.
func parInspectionJSON(file string, par *lattice.ProviderArchive) map[string]any {
	c := par.Claims
	return map[string]any{
		"file": file, "kind": "provider", "provider_id": c.Subject, "issuer": c.Issuer, "name": c.Provider.Name,
		"capid": c.Provider.CapID, "vendor": c.Provider.Vendor, "ver": c.Provider.Ver,
		"rev": c.Provider.Rev, "targets": slices.Sorted(maps.Keys(par.Targets)), "target_hashes": c.Provider.TargetHashes,
		"issued_at": unixTime(c.IssuedAt), "expires": unixTime(c.Expires), "not_before": unixTime(c.NotBefore), "valid": true,
	}
}

// writePARInspection is what `par inspect` and `inspect` print of a verified archive.
func writePARInspection(w io.Writer, file string, par *lattice.ProviderArchive) error {
	c := par.Claims
	names := slices.Sorted(maps.Keys(par.Targets))
	fmt.Fprintf(w, "%s\n  provider id: %s\n  issuer:      %s\n  name:        %s\n  contract:    %s\n  vendor:      %s\n",
		file, c.Subject, c.Issuer, c.Provider.Name, c.Provider.CapID, c.Provider.Vendor)
	fmt.Fprintf(w, "  version:     %s (revision %d)\n  issued:      %s\n  expires:     %s\n  not before:  %s\n  targets:     %s\n",
		orNone(c.Provider.Ver), c.Provider.Rev, time.Unix(c.IssuedAt, 0).UTC().Format(time.RFC3339),
		orText(unixTime(c.Expires), "never"), orText(unixTime(c.NotBefore), "immediately"), strings.Join(names, ", "))
	for _, n := range names {
		fmt.Fprintf(w, "    %-16s sha256 %s\n", n, c.Provider.TargetHashes[n])
	}
	_, err := fmt.Fprintln(w, "  valid:       yes (signature and every target hash verified)")
	return err
}
