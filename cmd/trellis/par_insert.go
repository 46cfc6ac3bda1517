package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-lattice/trellis/lattice"
)

type parInsertFlags struct {
	binaries        []string
	arch            string
	issuer, subject string
	destination     string
	replace         bool
	out             outputFormat
}

func newParInsertCmd() *cobra.Command {
	var f parInsertFlags
	cmd := &cobra.Command{
		Use:   "insert ARCHIVE",
		Short: "Add a target binary to a provider archive and sign its claims again",
		Long: `Add one binary per --binary TARGET=FILE to the provider archive ARCHIVE (or wash's form:
--arch TARGET --binary FILE) and sign its claims again with the new target hashes, keeping the
name, contract, vendor, version, revision, config schema and validity. The archive is verified
first and rewritten in place (or written to --destination), never left half-written.

The keys are those ` + "`par create`" + ` uses: --issuer, else the keystore account key; --subject, else
the keystore service key of the archive's name. Neither is made here: they must be the archive's
own issuer and subject (its provider id), else the archive is left as it was.`,
		Example: `  trellis par insert httpserver.par.gz --binary aarch64-linux=build/httpserver-arm64
  trellis par insert httpserver.par.gz --arch x86_64-macos --binary build/httpserver-darwin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return insertPAR(cmd, args[0], &f) },
	}
	fs := cmd.Flags()
	fs.StringArrayVarP(&f.binaries, "binary", "b", nil, "TARGET=PATH, or PATH with --arch (repeatable, at least one)")
	fs.StringVarP(&f.arch, "arch", "a", "", "target of a --binary given as a bare PATH, e.g. x86_64-linux (wash's form)")
	fs.StringVarP(&f.issuer, "issuer", "i", "", "account seed (SA…) or a file holding it (default: the keystore account key)")
	fs.StringVarP(&f.subject, "subject", "s", "", "service seed (SV…) or a file holding it (default: the keystore service key of the archive's name)")
	fs.StringVar(&f.destination, "destination", "", "write the result here instead of over ARCHIVE")
	fs.BoolVar(&f.replace, "replace", false, "replace the binary of a target the archive already has")
	addOutputFlag(fs, &f.out)
	_ = cmd.MarkFlagRequired("binary")
	return cmd
}

func insertPAR(cmd *cobra.Command, archive string, f *parInsertFlags) error {
	fail := func(err error) error { return fmt.Errorf("par insert %s: %w", archive, err) }
	raw, err := os.ReadFile(archive)
	if err != nil {
		return fail(err)
	}
	par, err := lattice.ReadPAR(bytes.NewReader(raw))
	if err != nil {
		return fail(err)
	}
	c := par.Claims
	added, err := readInsertBinaries(f, par.Targets)
	if err != nil {
		return fail(err)
	}
	ks, err := defaultKeyStore()
	if err != nil {
		return err
	}
	issuer, err := existingKey(ks, "issuer", f.issuer, accountKeyName(), lattice.PrefixAccount, c.Issuer)
	if err != nil {
		return fail(err)
	}
	subject, err := existingKey(ks, "subject", f.subject, moduleKeyName(c.Provider.Name), lattice.PrefixService, c.Subject)
	if err != nil {
		return fail(err)
	}
	targets := maps.Clone(par.Targets)
	maps.Copy(targets, added)
	meta := c.Provider
	meta.TargetHashes = nil
	opts := lattice.SignOptions{}
	if c.Expires != 0 {
		opts.Expires = time.Unix(c.Expires, 0)
	}
	if c.NotBefore != 0 {
		opts.NotBefore = time.Unix(c.NotBefore, 0)
	}
	var buf bytes.Buffer
	claims, err := lattice.WritePAR(&buf, issuer, subject, meta, targets, opts)
	if err != nil {
		return fail(err)
	}
	dest := archive
	if f.destination != "" {
		dest = f.destination
	}
	if err := writeFileAtomic(dest, buf.Bytes()); err != nil {
		return fail(fmt.Errorf("write %s: %w", dest, err))
	}
	names := slices.Sorted(maps.Keys(targets))
	inserted := slices.Sorted(maps.Keys(added))
	w := cmd.OutOrStdout()
	if f.out == outputJSON {
		return writeJSON(w, map[string]any{"file": dest, "provider_id": claims.Subject, "issuer": claims.Issuer,
			"inserted": inserted, "targets": names, "target_hashes": claims.Provider.TargetHashes})
	}
	fmt.Fprintf(w, "Inserted %s into %s\n  provider id: %s\n  targets:     %s\n",
		strings.Join(inserted, ", "), dest, claims.Subject, strings.Join(names, ", "))
	return nil
}

// readInsertBinaries reads the --binary files by target, refusing a target the archive has
// unless --replace.
func readInsertBinaries(f *parInsertFlags, have map[string][]byte) (map[string][]byte, error) {
	bare := 0
	for _, b := range f.binaries {
		if !strings.Contains(b, "=") {
			bare++
		}
	}
	switch {
	case bare > 0 && f.arch == "":
		return nil, errors.New("--binary: want TARGET=PATH, or PATH with --arch TARGET")
	case bare > 1:
		return nil, errors.New("--arch names the target of one bare --binary PATH; give the others as TARGET=PATH")
	case bare == 0 && f.arch != "":
		return nil, errors.New("--arch is the target of a --binary given as a bare PATH, and every --binary has its TARGET=")
	}
	out := map[string][]byte{}
	for _, b := range f.binaries {
		target, path, ok := strings.Cut(b, "=")
		if !ok {
			target, path = f.arch, b
		}
		if target == "" || path == "" {
			return nil, fmt.Errorf("--binary %q: want TARGET=PATH", b)
		}
		if _, dup := out[target]; dup {
			return nil, fmt.Errorf("--binary: target %s given twice", target)
		}
		if _, exists := have[target]; exists && !f.replace {
			return nil, fmt.Errorf("the archive already has a %s binary; pass --replace to replace it", target)
		}
		bin, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", target, err)
		}
		out[target] = bin
	}
	return out, nil
}

// existingKey resolves the key of one role without making one: an explicit seed or file, else
// the keystore key name. It must be the key want (the archive's own).
func existingKey(ks keyStore, role, value, name string, kind lattice.KeyPrefix, want string) (*lattice.KeyPair, error) {
	var kp *lattice.KeyPair
	var err error
	if value != "" {
		kp, err = seedOrFile(role, value, kind)
	} else {
		var path string
		kp, path, err = ks.load(name, kind)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s key: %s does not exist; pass --%s with the seed of %s", role, path, role, want)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s key: %w", role, err)
	}
	if kp.PublicKey() != want {
		return nil, fmt.Errorf("%s key %s is not the archive's %s %s; pass --%s with its seed", role, kp.PublicKey(), role, want, role)
	}
	return kp, nil
}
