package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trellis-lattice/trellis/lattice"
)

// `trellis ctx` manages the contexts of context.go, with wash's verbs.

func newCtxCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ctx",
		Short: "Named connections to lattices (contexts), as wash had them: list, new, edit, default, del",
		Long: `A context names a connection to a lattice: its NATS servers, credentials, TLS files,
lattice prefix, cluster seed, JetStream domain and timeouts. ctl, app and lattice commands (and
spy and the top-level get, start, stop, scale, update, link, call) use the one given with
--context NAME, else the default context, for every flag given neither on the command line nor
by an environment variable.

Contexts are JSON files in $TRELLIS_CONTEXT_DIR (default ~/.trellis/contexts), in wash's format
plus Trellis's fields; index.json names the default. wash's contexts ($WASH_CONTEXTS, default
~/.wash/contexts) are read where they are: --context finds them by name.`,
	}
	cmd.AddCommand(newCtxListCmd(), newCtxNewCmd(), newCtxEditCmd(), newCtxDefaultCmd(), newCtxDelCmd())
	return cmd
}

// ctxEntry is a line of `ctx list`.
type ctxEntry struct {
	Name    string `json:"name"`
	Default bool   `json:"default"`
	Source  string `json:"source"` // trellis or wash
	Server  string `json:"server,omitempty"`
	Lattice string `json:"lattice,omitempty"`
	File    string `json:"file"`
	Error   string `json:"error,omitempty"`
}

func newCtxListCmd() *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the contexts (and wash's), marking the default",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := trellisContexts()
			if err != nil {
				return err
			}
			def, err := dir.defaultName()
			if err != nil {
				return err
			}
			dirs := []contextDir{dir}
			if wd, ok := washContexts(); ok {
				dirs = append(dirs, wd)
			}
			var entries []ctxEntry
			for _, d := range dirs {
				names, err := d.names()
				if err != nil {
					return err
				}
				for _, n := range names {
					e := ctxEntry{Name: n, Source: "trellis", File: d.path(n), Default: !d.wash && n == def}
					if d.wash {
						e.Source = "wash"
					}
					if c, _, err := d.load(n); err != nil {
						e.Error = err.Error()
					} else {
						e.Server, e.Lattice = c.server(), c.Lattice
					}
					entries = append(entries, e)
				}
			}
			w := cmd.OutOrStdout()
			if out == outputJSON {
				if entries == nil {
					entries = []ctxEntry{}
				}
				return writeJSON(w, map[string]any{"contexts": entries, "default": def})
			}
			if len(entries) == 0 {
				fmt.Fprintf(w, "No contexts in %s. Make one with `trellis ctx new NAME --nats-url …`.\n", dir.dir)
				return nil
			}
			t := newTable(w, "NAME", "DEFAULT", "FROM", "SERVER", "LATTICE", "FILE")
			for _, e := range entries {
				mark := ""
				if e.Default {
					mark = "*"
				}
				server := e.Server
				if e.Error != "" {
					server = "(unreadable: see below)"
				}
				t.row(e.Name, mark, e.Source, server, e.Lattice, e.File)
			}
			if err := t.flush(); err != nil {
				return err
			}
			for _, e := range entries {
				if e.Error != "" {
					fmt.Fprintf(w, "%s: %s\n", e.Name, e.Error)
				}
			}
			return nil
		},
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

// ctxFields are the context fields `ctx new` sets, by flag: name, usage and where it goes.
var ctxFields = []struct {
	flag, usage string
	field       func(*connContext) *string
}{
	{"nats-url", "NATS server(s): one URL or a comma-separated list", func(c *connContext) *string { return &c.NATSURL }},
	{"nats-creds", "NATS credentials file (.creds)", func(c *connContext) *string { return &c.CtlCredsFile }},
	{"nats-user", "NATS user (with --nats-password)", func(c *connContext) *string { return &c.NATSUser }},
	{"nats-password", "NATS password (the file is written mode 0600)", func(c *connContext) *string { return &c.NATSPassword }},
	{"nats-token", "NATS token", func(c *connContext) *string { return &c.NATSToken }},
	{"nats-tls-ca", "PEM file of the CA that verifies the server", func(c *connContext) *string { return &c.TLSCA }},
	{"nats-tls-cert", "PEM file of a client certificate", func(c *connContext) *string { return &c.TLSCert }},
	{"nats-tls-key", "PEM file of its key", func(c *connContext) *string { return &c.TLSKey }},
	{"ctl-jwt", "NATS user JWT, or a file holding it", func(c *connContext) *string { return &c.CtlJWT }},
	{"ctl-seed", "its nkey seed, or a file holding it", func(c *connContext) *string { return &c.CtlSeed }},
	{"lattice", "lattice prefix", func(c *connContext) *string { return &c.Lattice }},
	{"cluster-seed", "cluster seed (SC…) or a file holding it, for ctl call", func(c *connContext) *string { return &c.ClusterSeed }},
	{"js-domain", "JetStream domain", func(c *connContext) *string { return &c.JSDomain }},
}

func newCtxNewCmd() *cobra.Command {
	var (
		interactive, force, tlsFirst bool
		ctlTimeout, rpcTimeout       millis
		vals                         = make([]string, len(ctxFields))
	)
	cmd := &cobra.Command{
		Use:   "new NAME",
		Short: "Make a context from the flags given (or, with -i, from answers to prompts)",
		Example: "  trellis ctx new prod --nats-url tls://nats.prod:4222 --nats-creds ~/prod.creds --lattice prod\n" +
			"  trellis ctx new lab -i",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := &connContext{Name: args[0]}
			if err := checkContextName(c.Name); err != nil {
				return err
			}
			dir, err := trellisContexts()
			if err != nil {
				return err
			}
			if _, err := os.Stat(dir.path(c.Name)); err == nil && !force {
				return fmt.Errorf("context %s exists (%s): edit it with `trellis ctx edit %s`, or pass --force to replace it", c.Name, dir.path(c.Name), c.Name)
			}
			for i, f := range ctxFields {
				*f.field(c) = strings.TrimSpace(vals[i])
			}
			c.TLSFirst = tlsFirst
			c.CtlTimeout = uint64(time.Duration(ctlTimeout).Milliseconds())
			c.RPCTimeout = uint64(time.Duration(rpcTimeout).Milliseconds())
			if interactive {
				if err := promptContext(cmd.InOrStdin(), cmd.ErrOrStderr(), c); err != nil {
					return err
				}
			}
			absFiles(c)
			if err := checkContextValues(c); err != nil {
				return err
			}
			p, err := dir.save(c)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Context %s saved to %s (use it with --context %s, or make it the default with `trellis ctx default %s`)\n", c.Name, p, c.Name, c.Name)
			return nil
		},
	}
	fs := cmd.Flags()
	for i, f := range ctxFields {
		fs.StringVar(&vals[i], f.flag, "", f.usage)
	}
	fs.BoolVar(&tlsFirst, "nats-tls-first", false, "TLS handshake before NATS's INFO")
	fs.Var(&ctlTimeout, "ctl-timeout", "how long ctl waits for the hosts' answers (duration or milliseconds; 0: the default)")
	fs.Var(&rpcTimeout, "rpc-timeout", "how long ctl call waits for the reply (duration or milliseconds; 0: the default)")
	fs.BoolVarP(&interactive, "interactive", "i", false, "ask for each value on the terminal (Enter keeps the value shown)")
	fs.BoolVar(&force, "force", false, "replace an existing context of that name")
	return withWashFlagNames(cmd)
}

// absFiles makes the context's values that name existing files absolute paths, so the context
// works from any directory.
func absFiles(c *connContext) {
	for _, v := range []*string{&c.CtlCredsFile, &c.TLSCA, &c.TLSCert, &c.TLSKey, &c.CtlJWT, &c.CtlSeed, &c.ClusterSeed} {
		if *v == "" || filepath.IsAbs(*v) {
			continue
		}
		if st, err := os.Stat(*v); err == nil && st.Mode().IsRegular() {
			if abs, err := filepath.Abs(*v); err == nil {
				*v = abs
			}
		}
	}
}

// checkContextValues refuses a context the commands could not use, by the checks they make
// themselves, so a mistake is found when the context is written rather than at each use.
func checkContextValues(c *connContext) error {
	f := &ctlFlags{}
	fl := pflag.NewFlagSet("context", pflag.ContinueOnError)
	f.register(fl)
	var rpc millis
	fl.Var(&rpc, "rpc-timeout", "")
	for _, kv := range c.flagValues() {
		if err := fl.Set(kv[0], kv[1]); err != nil {
			return fmt.Errorf("context %s: %s %q: %w", c.Name, contextField[kv[0]], kv[1], err)
		}
	}
	jwt, err := valueOrFile("ctl-jwt", f.ctlJWT)
	if err != nil {
		return fmt.Errorf("context %s: %w", c.Name, err)
	}
	seed, err := valueOrFile("ctl-seed", f.ctlSeed)
	if err != nil {
		return fmt.Errorf("context %s: %w", c.Name, err)
	}
	n := lattice.NATSConfig{
		Servers: lattice.SplitServers(f.nats.url), User: f.nats.user, Password: f.nats.password, Token: f.nats.token,
		CredsFile: f.nats.creds, TLSCAFile: f.nats.tlsCA, TLSCertFile: f.nats.tlsCert, TLSKeyFile: f.nats.tlsKey,
		TLSFirst: f.nats.tlsFirst, JWT: jwt, Seed: seed,
	}
	n, err = n.Normalize()
	if err == nil {
		err = n.Validate()
	}
	if err == nil && c.ClusterSeed != "" {
		_, err = seedOrFile("cluster-seed", c.ClusterSeed, lattice.PrefixCluster)
	}
	if err != nil {
		return fmt.Errorf("context %s: %w", c.Name, err)
	}
	return nil
}

// promptContext asks for each field on in, showing the current value; an empty answer keeps it.
func promptContext(in io.Reader, out io.Writer, c *connContext) error {
	r := bufio.NewReader(in)
	ask := func(label, cur string) (string, error) {
		fmt.Fprintf(out, "%s [%s]: ", label, cur)
		line, err := r.ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			if errors.Is(err, io.EOF) {
				return cur, nil // no more answers: keep the rest
			}
			return "", err
		}
		if v := strings.TrimSpace(line); v != "" {
			return v, nil
		}
		return cur, nil
	}
	for _, f := range ctxFields {
		v, err := ask(f.flag+" ("+f.usage+")", *f.field(c))
		if err != nil {
			return err
		}
		*f.field(c) = v
	}
	for _, t := range []struct {
		label string
		v     *uint64
	}{{"ctl-timeout in milliseconds", &c.CtlTimeout}, {"rpc-timeout in milliseconds", &c.RPCTimeout}} {
		cur := ""
		if *t.v > 0 {
			cur = strconv.FormatUint(*t.v, 10)
		}
		v, err := ask(t.label, cur)
		if err != nil {
			return err
		}
		if v == "" {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 63)
		if err != nil {
			return fmt.Errorf("%s %q: want a number of milliseconds", t.label, v)
		}
		*t.v = n
	}
	return nil
}

func newCtxEditCmd() *cobra.Command {
	var editor string
	cmd := &cobra.Command{
		Use:   "edit NAME",
		Short: "Edit a context's JSON in $EDITOR; it is saved only when it still reads as a context",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := trellisContexts()
			if err != nil {
				return err
			}
			name := args[0]
			_, p, err := dir.load(name)
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("context %s: no such context in %s (see `trellis ctx list`; `trellis ctx new %s` makes it)", name, dir.dir, name)
			}
			if err != nil {
				return err
			}
			if editor == "" {
				return errors.New("no editor: set $EDITOR or pass --editor")
			}
			orig, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			tmp := filepath.Join(dir.dir, "."+name+".edit.json")
			if err := os.WriteFile(tmp, orig, 0o600); err != nil {
				return err
			}
			words := strings.Fields(editor)
			ed := exec.CommandContext(cmd.Context(), words[0], append(words[1:], tmp)...)
			ed.Stdin, ed.Stdout, ed.Stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
			if err := ed.Run(); err != nil {
				os.Remove(tmp)
				return fmt.Errorf("editor %s: %w (context %s unchanged)", editor, err, name)
			}
			c, err := readContextFile(tmp)
			if err == nil {
				c.Name = name // the file name is the context's name
				err = checkContextValues(c)
			}
			if err != nil {
				return fmt.Errorf("%w: context %s unchanged; the edited copy is %s", err, name, tmp)
			}
			if _, err := dir.save(c); err != nil {
				return err
			}
			os.Remove(tmp)
			fmt.Fprintf(cmd.OutOrStdout(), "Context %s saved (%s)\n", name, p)
			return nil
		},
	}
	cmd.Flags().StringVarP(&editor, "editor", "e", os.Getenv("EDITOR"), "editor command (default $EDITOR)")
	return cmd
}

func newCtxDefaultCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "default [NAME]",
		Short: "Make NAME the default context (without NAME: show the default)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := trellisContexts()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if len(args) == 0 {
				def, err := dir.defaultName()
				if err != nil {
					return err
				}
				if def == "" {
					fmt.Fprintln(w, "No default context: commands use their flags, the environment and the built-in defaults.")
					return nil
				}
				fmt.Fprintln(w, def)
				return nil
			}
			name := args[0]
			if _, _, err := dir.load(name); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("context %s: no such context in %s (see `trellis ctx list`)", name, dir.dir)
				}
				return err
			}
			if err := dir.setDefault(name); err != nil {
				return err
			}
			fmt.Fprintf(w, "Default context: %s\n", name)
			return nil
		},
	}
}

func newCtxDelCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "del NAME",
		Short: "Delete a context (if it was the default, no context is the default any more)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := trellisContexts()
			if err != nil {
				return err
			}
			name := args[0]
			if err := checkContextName(name); err != nil {
				return err
			}
			if err := os.Remove(dir.path(name)); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("context %s: no such context in %s (see `trellis ctx list`)", name, dir.dir)
				}
				return err
			}
			if def, err := dir.defaultName(); err == nil && def == name {
				if err := dir.setDefault(""); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Context %s deleted\n", name)
			return nil
		},
	}
}
