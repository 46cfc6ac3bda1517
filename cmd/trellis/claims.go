package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-lattice/trellis/lattice"
)

func newClaimsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "claims",
		Short: "Sign actor modules and inspect their embedded claims",
	}
	cmd.AddCommand(newClaimsSignCmd(), newClaimsInspectCmd())
	return cmd
}

type signFlags struct {
	name, callAlias, ver        string
	caps, tags                  []string
	rev                         int
	expiresIn                   time.Duration
	notBefore                   string
	issuer, issuerFile, subject string
	destination                 string
	out                         outputFormat
}

func newClaimsSignCmd() *cobra.Command {
	var f signFlags
	cmd := &cobra.Command{
		Use:   "sign FILE",
		Short: "Embed signed claims (name, capabilities, call alias…) in an actor module",
		Long: `Sign the wasm module FILE: embed a wascap JWT in a "wasmcloud_jwt" custom section and
write the result to --destination (default: FILE with "_s.wasm", e.g. echo.wasm → echo_s.wasm).

The issuer is --issuer/--issuer-file, else the keystore account key <user>_account.nk (made the
first time). The subject (the actor id) is --subject, else the keystore module key
<file stem>_module.nk (made the first time and reused, so the actor id stays the same).`,
		Example: `  trellis claims sign build/actors/echo.wasm --name echo --cap wasmcloud:httpserver
  trellis claims sign ponger.wasm --name ponger --call-alias wasmcloud/ponger --rev 2 --ver 0.2.0`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return signActor(cmd, args[0], &f) },
	}
	fs := cmd.Flags()
	fs.StringVarP(&f.name, "name", "n", "", "actor name (required)")
	fs.StringSliceVarP(&f.caps, "cap", "c", nil, "capability contract id the actor may use, e.g. wasmcloud:httpserver (repeatable or comma-separated)")
	fs.StringVarP(&f.callAlias, "call-alias", "a", "", "a name other actors can call this one by, e.g. wasmcloud/ponger")
	fs.IntVarP(&f.rev, "rev", "r", 0, "revision number")
	fs.StringVarP(&f.ver, "ver", "v", "", "human-readable version, e.g. 0.1.0")
	fs.StringSliceVarP(&f.tags, "tag", "t", nil, "tag (repeatable or comma-separated)")
	fs.DurationVar(&f.expiresIn, "expires-in", 0, "validity from now, e.g. 720h (default: never expires)")
	fs.StringVar(&f.notBefore, "not-before", "", "not valid before this time: a duration from now (1h) or an RFC 3339 time")
	fs.StringVar(&f.issuer, "issuer", "", "account seed (SA…) or a file holding it (default: the keystore account key)")
	fs.StringVar(&f.issuerFile, "issuer-file", "", "file holding the account seed")
	fs.StringVar(&f.subject, "subject", "", "module seed (SM…) or a file holding it (default: the keystore module key of FILE)")
	fs.StringVarP(&f.destination, "destination", "d", "", `where to write the signed module (default: FILE with "_s.wasm")`)
	addOutputFlag(fs, &f.out)
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func signActor(cmd *cobra.Command, file string, f *signFlags) error {
	module, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("sign %s: %w", file, err)
	}
	if strings.TrimSpace(f.name) == "" {
		return fmt.Errorf("sign %s: --name is empty", file)
	}
	ks, err := defaultKeyStore()
	if err != nil {
		return err
	}
	notices := cmd.ErrOrStderr()
	issuer, err := signingKey(ks, notices, "issuer", f.issuer, f.issuerFile, accountKeyName(), lattice.PrefixAccount)
	if err != nil {
		return fmt.Errorf("sign %s: %w", file, err)
	}
	subject, err := signingKey(ks, notices, "subject", f.subject, "", moduleKeyName(file), lattice.PrefixModule)
	if err != nil {
		return fmt.Errorf("sign %s: %w", file, err)
	}
	var opts lattice.SignOptions
	now := time.Now()
	if f.expiresIn < 0 {
		return fmt.Errorf("sign %s: --expires-in %s: must be positive", file, f.expiresIn)
	}
	if f.expiresIn > 0 {
		opts.Expires = now.Add(f.expiresIn)
	}
	if f.notBefore != "" {
		if opts.NotBefore, err = parseWhen(now, f.notBefore); err != nil {
			return fmt.Errorf("sign %s: --not-before: %w", file, err)
		}
	}
	meta := lattice.ActorMetadata{
		Name:      f.name,
		Caps:      cleanList(f.caps),
		Tags:      cleanList(f.tags),
		Rev:       f.rev,
		Ver:       f.ver,
		CallAlias: f.callAlias,
	}
	signed, claims, err := lattice.SignActor(module, issuer, subject, meta, opts)
	if err != nil {
		return fmt.Errorf("sign %s: %w", file, err)
	}
	dest := f.destination
	if dest == "" {
		dest = signedName(file)
	}
	if err := os.WriteFile(dest, signed, 0o644); err != nil {
		return fmt.Errorf("sign %s: write %s: %w", file, dest, err)
	}
	w := cmd.OutOrStdout()
	if f.out == outputJSON {
		return writeJSON(w, map[string]any{
			"file": dest, "actor_id": claims.Subject, "issuer": claims.Issuer, "name": claims.Actor.Name,
			"caps": nonNilList(claims.Actor.Caps), "call_alias": claims.Actor.CallAlias, "hash": claims.Actor.Hash,
		})
	}
	caps := "none"
	if len(meta.Caps) > 0 {
		caps = strings.Join(meta.Caps, ", ")
	}
	fmt.Fprintf(w, "Signed %s as %s\n  actor id:     %s\n  issuer:       %s\n  capabilities: %s\n",
		dest, f.name, claims.Subject, claims.Issuer, caps)
	return nil
}

// signingKey resolves the key of one role: an explicit seed or file, else the keystore key
// name (made and saved when missing, saying so on notices).
func signingKey(ks keyStore, notices io.Writer, role, value, file, name string, kind lattice.KeyPrefix) (*lattice.KeyPair, error) {
	switch {
	case value != "" && file != "":
		return nil, fmt.Errorf("--%s and --%s-file: give one, not both", role, role)
	case value != "":
		return seedOrFile(role, value, kind)
	case file != "":
		return seedOrFile(role+"-file", file, kind)
	}
	kp, path, created, err := ks.loadOrCreate(name, kind)
	if err != nil {
		return nil, fmt.Errorf("%s key: %w", role, err)
	}
	if created {
		fmt.Fprintf(notices, "No %s key found; generated one at %s (pass --%s to use another)\n", kind, path, role)
	}
	return kp, nil
}

// moduleKeyName is the keystore name of a module's subject key: the file name without
// directory, extension and a trailing "_s" of a signed copy.
func moduleKeyName(file string) string {
	stem := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	stem = strings.TrimSuffix(stem, "_s")
	var b strings.Builder
	for _, r := range stem {
		if r < 128 && (r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 || !keyNameRE.MatchString(b.String()) {
		return "module"
	}
	return b.String()
}

// signedName is wash's default destination: echo.wasm → echo_s.wasm.
func signedName(file string) string {
	return strings.TrimSuffix(file, ".wasm") + "_s.wasm"
}

// parseWhen reads a duration from now or an RFC 3339 time.
func parseWhen(now time.Time, s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration (1h) nor an RFC 3339 time (2030-01-02T15:04:05Z)", s)
	}
	return t, nil
}

// cleanList trims entries and drops empty ones.
func cleanList(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func nonNilList(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func newClaimsInspectCmd() *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Show the claims embedded in an actor module and whether they are valid",
		Long: `Show the claims of the wasm module FILE: subject (actor id), issuer, name, capabilities,
tags, call alias, version, hash, the custom section they were found in, and whether they are
valid (signature, module hash, expiry). Exits 1 when the module is not validly signed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			module, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("inspect %s: %w", args[0], err)
			}
			ins := lattice.InspectActor(module, time.Now())
			w := cmd.OutOrStdout()
			if out == outputJSON {
				err = writeJSON(w, inspectionJSON(args[0], ins))
			} else {
				err = writeInspection(w, args[0], ins)
			}
			if err != nil {
				return err
			}
			if !ins.Valid {
				return exitError{code: 1, silent: true, err: errors.New(ins.Problem)}
			}
			return nil
		},
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func inspectionJSON(file string, ins lattice.ActorInspection) map[string]any {
	m := map[string]any{
		"file": file, "valid": ins.Valid, "problem": ins.Problem, "section": ins.Section, "module_hash": ins.Hash,
	}
	if c := ins.Claims; c != nil {
		m["subject"] = c.Subject
		m["issuer"] = c.Issuer
		m["name"] = c.Actor.Name
		m["caps"] = nonNilList(c.Actor.Caps)
		m["tags"] = nonNilList(c.Actor.Tags)
		m["call_alias"] = c.Actor.CallAlias
		m["hash"] = c.Actor.Hash
		m["rev"] = c.Actor.Rev
		m["ver"] = c.Actor.Ver
		m["issued_at"] = unixTime(c.IssuedAt)
		m["expires"] = unixTime(c.Expires)
		m["not_before"] = unixTime(c.NotBefore)
		m["jti"] = c.ID
	}
	return m
}

func writeInspection(w io.Writer, file string, ins lattice.ActorInspection) error {
	t := newTable(w, "FIELD", "VALUE")
	t.row("File", file)
	if c := ins.Claims; c != nil {
		t.row("Name", c.Actor.Name)
		t.row("Actor (subject)", c.Subject)
		t.row("Account (issuer)", c.Issuer)
		t.row("Capabilities", orNone(strings.Join(c.Actor.Caps, ", ")))
		t.row("Tags", orNone(strings.Join(c.Actor.Tags, ", ")))
		t.row("Call alias", orNone(c.Actor.CallAlias))
		t.row("Version", fmt.Sprintf("%s (rev %d)", orNone(c.Actor.Ver), c.Actor.Rev))
		t.row("Issued", orNone(unixTime(c.IssuedAt)))
		t.row("Expires", orText(unixTime(c.Expires), "never"))
		t.row("Not before", orText(unixTime(c.NotBefore), "immediately"))
		t.row("Claims hash", c.Actor.Hash)
	}
	t.row("Module hash", ins.Hash)
	t.row("Section", orText(ins.Section, "none found"))
	if ins.Valid {
		t.row("Valid", "yes")
	} else {
		t.row("Valid", "no: "+ins.Problem)
	}
	return t.flush()
}

func unixTime(sec int64) string {
	if sec == 0 {
		return ""
	}
	return time.Unix(sec, 0).UTC().Format(time.RFC3339)
}

func orNone(s string) string { return orText(s, "none") }

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}
