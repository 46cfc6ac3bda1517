package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Contexts are named connections to a lattice, as wash 0.x had them: one JSON file per context,
// <name>.json, in a directory that also holds index.json ({"name": "<default context>"}). The
// directory is $TRELLIS_CONTEXT_DIR, else ~/.trellis/contexts. wash's own directory
// ($WASH_CONTEXTS, else ~/.wash/contexts) is read too: `--context NAME` finds a wash context
// there, and `ctx list` shows them.
//
// A command of ctl, app or their top-level aliases takes its connection from `--context NAME`,
// else from the default context, for every flag given neither on the command line nor by an
// environment variable: flag > environment > context > built-in default.

// connContext is a context file: wash's WashContext fields (which Trellis reads as wash wrote
// them) and Trellis's own, for what wash's had no field for. Empty fields say nothing.
type connContext struct {
	Name string `json:"name"`

	// wash's fields.
	ClusterSeed  string `json:"cluster_seed,omitempty"` // a seed (SC…), or a file holding it
	CtlHost      string `json:"ctl_host,omitempty"`
	CtlPort      int    `json:"ctl_port,omitempty"`
	CtlJWT       string `json:"ctl_jwt,omitempty"`  // a user JWT, or a file holding it
	CtlSeed      string `json:"ctl_seed,omitempty"` // its nkey seed, or a file holding it
	CtlCredsFile string `json:"ctl_credsfile,omitempty"`
	CtlTimeout   uint64 `json:"ctl_timeout,omitempty"` // milliseconds
	Lattice      string `json:"lattice_prefix,omitempty"`
	JSDomain     string `json:"js_domain,omitempty"`
	RPCTimeout   uint64 `json:"rpc_timeout,omitempty"` // milliseconds; `ctl call`

	// Trellis's fields.
	NATSURL      string `json:"nats_url,omitempty"` // one URL or a comma-separated list; wins over ctl_host/ctl_port
	NATSUser     string `json:"nats_user,omitempty"`
	NATSPassword string `json:"nats_password,omitempty"`
	NATSToken    string `json:"nats_token,omitempty"`
	TLSCA        string `json:"nats_tls_ca,omitempty"`
	TLSCert      string `json:"nats_tls_cert,omitempty"`
	TLSKey       string `json:"nats_tls_key,omitempty"`
	TLSFirst     bool   `json:"nats_tls_first,omitempty"`
}

// check refuses what no flag could take. wash writes null (or "") for what it does not set,
// which reads as empty here.
func (c *connContext) check(file string) error {
	if c.CtlPort < 0 || c.CtlPort > 65535 {
		return fmt.Errorf("context %s: ctl_port %d: want 1-65535", file, c.CtlPort)
	}
	return nil
}

// server is the NATS URL the context names: nats_url, else ctl_host and ctl_port (as wash built
// it), else "".
func (c *connContext) server() string {
	if c.NATSURL != "" {
		return c.NATSURL
	}
	if c.CtlHost == "" && c.CtlPort == 0 {
		return ""
	}
	h, p := c.CtlHost, c.CtlPort
	if h == "" {
		h = "127.0.0.1"
	}
	if p == 0 {
		p = 4222
	}
	return "nats://" + net.JoinHostPort(h, strconv.Itoa(p))
}

// flagValues are the context's values by the flag they stand for, as command-line text.
func (c *connContext) flagValues() [][2]string {
	var v [][2]string
	add := func(flag, value string) {
		if value != "" {
			v = append(v, [2]string{flag, value})
		}
	}
	add("nats-url", c.server())
	add("nats-creds", c.CtlCredsFile)
	add("nats-user", c.NATSUser)
	add("nats-password", c.NATSPassword)
	add("nats-token", c.NATSToken)
	add("nats-tls-ca", c.TLSCA)
	add("nats-tls-cert", c.TLSCert)
	add("nats-tls-key", c.TLSKey)
	if c.TLSFirst {
		add("nats-tls-first", "true")
	}
	add("ctl-jwt", c.CtlJWT)
	add("ctl-seed", c.CtlSeed)
	add("lattice", c.Lattice)
	add("cluster-seed", c.ClusterSeed)
	add("js-domain", c.JSDomain)
	if c.CtlTimeout > 0 {
		add("ctl-timeout", strconv.FormatUint(c.CtlTimeout, 10))
	}
	if c.RPCTimeout > 0 {
		add("rpc-timeout", strconv.FormatUint(c.RPCTimeout, 10))
	}
	return v
}

// contextField names the JSON field of a flag, for errors.
var contextField = map[string]string{
	"nats-url": "nats_url (or ctl_host/ctl_port)", "nats-creds": "ctl_credsfile", "nats-user": "nats_user",
	"nats-password": "nats_password", "nats-token": "nats_token", "nats-tls-ca": "nats_tls_ca",
	"nats-tls-cert": "nats_tls_cert", "nats-tls-key": "nats_tls_key", "nats-tls-first": "nats_tls_first",
	"ctl-jwt": "ctl_jwt", "ctl-seed": "ctl_seed", "lattice": "lattice_prefix", "cluster-seed": "cluster_seed",
	"js-domain": "js_domain", "ctl-timeout": "ctl_timeout", "rpc-timeout": "rpc_timeout",
}

// contextDir is a directory of context files.
type contextDir struct {
	dir  string
	wash bool // wash's directory: read, never written
}

const contextIndex = "index.json"

var contextNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func checkContextName(name string) error {
	if !contextNameRE.MatchString(name) || strings.HasSuffix(name, ".json") || name == "index" {
		return fmt.Errorf("context name %q: use letters, digits, '.', '_' and '-' only (not \"index\", no .json)", name)
	}
	return nil
}

// trellisContexts is $TRELLIS_CONTEXT_DIR, else ~/.trellis/contexts.
func trellisContexts() (contextDir, error) {
	if _, v, ok := lookupEnv("TRELLIS_CONTEXT_DIR"); ok {
		return contextDir{dir: v}, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return contextDir{}, fmt.Errorf("contexts directory: no home directory (set TRELLIS_CONTEXT_DIR): %w", err)
	}
	return contextDir{dir: filepath.Join(home, ".trellis", "contexts")}, nil
}

// washContexts is wash's directory, $WASH_CONTEXTS, else ~/.wash/contexts; ok is false without
// a home directory.
func washContexts() (contextDir, bool) {
	if _, v, ok := lookupEnv("WASH_CONTEXTS"); ok {
		return contextDir{dir: v, wash: true}, true
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return contextDir{}, false
	}
	return contextDir{dir: filepath.Join(home, ".wash", "contexts"), wash: true}, true
}

func (d contextDir) path(name string) string { return filepath.Join(d.dir, name+".json") }

// names lists the contexts of the directory, sorted; a missing directory has none.
func (d contextDir) names() ([]string, error) {
	entries, err := os.ReadDir(d.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("contexts: %w", err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		// Hidden files are not contexts: `ctx edit` leaves its copy as .NAME.edit.json when the
		// edit did not read as a context.
		if e.Type().IsRegular() && strings.HasSuffix(n, ".json") && n != contextIndex && !strings.HasPrefix(n, ".") {
			names = append(names, strings.TrimSuffix(n, ".json"))
		}
	}
	slices.Sort(names)
	return names, nil
}

// load reads the named context; the error wraps fs.ErrNotExist when there is none.
func (d contextDir) load(name string) (*connContext, string, error) {
	if err := checkContextName(name); err != nil {
		return nil, "", err
	}
	p := d.path(name)
	c, err := readContextFile(p)
	return c, p, err
}

// readContextFile reads and checks a context file.
func readContextFile(p string) (*connContext, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("context %s: %w", p, err)
	}
	var c connContext
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("context %s: not a context file: %w", p, err)
	}
	if err := c.check(p); err != nil {
		return nil, err
	}
	return &c, nil
}

// save writes c as <c.Name>.json, mode 0600 (it may hold a password), through a temporary file so
// a failed write leaves the old one.
func (d contextDir) save(c *connContext) (string, error) {
	if err := checkContextName(c.Name); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return "", err
	}
	p := d.path(c.Name)
	return p, writePrivateFile(p, append(b, '\n'))
}

// writePrivateFile writes p (mode 0600, its directory 0700) through a temporary file, so a
// failed write leaves what was there.
func writePrivateFile(p string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("contexts: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("contexts: %w", err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// defaultName is the default context named by index.json, "" when none is set.
func (d contextDir) defaultName() (string, error) {
	b, err := os.ReadFile(filepath.Join(d.dir, contextIndex))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("contexts: %w", err)
	}
	var idx struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return "", fmt.Errorf("contexts: %s: want {\"name\": \"<context>\"}: %w", filepath.Join(d.dir, contextIndex), err)
	}
	return idx.Name, nil
}

func (d contextDir) setDefault(name string) error {
	if name == "" {
		err := os.Remove(filepath.Join(d.dir, contextIndex))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	b, _ := json.Marshal(map[string]string{"name": name})
	return writePrivateFile(filepath.Join(d.dir, contextIndex), b)
}

// resolveContext finds the context a command uses: name (from --context) in Trellis's
// directory, else in wash's, else name as a file path (wash's --context took one); without a
// name, the default context when one is set. nil: no context.
func resolveContext(name string) (*connContext, string, error) {
	dir, err := trellisContexts()
	if err != nil {
		if name == "" {
			return nil, "", nil // no home and no context asked for: nothing to apply
		}
		return nil, "", err
	}
	if name == "" {
		def, err := dir.defaultName()
		if err != nil || def == "" {
			return nil, "", err
		}
		c, p, err := dir.load(def)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("the default context %q (%s) does not exist: set another with `trellis ctx default NAME`, or pass --context", def, filepath.Join(dir.dir, contextIndex))
		}
		return c, p, err
	}
	if checkContextName(name) == nil {
		c, p, err := dir.load(name)
		if !errors.Is(err, fs.ErrNotExist) {
			return c, p, err
		}
		if wd, ok := washContexts(); ok {
			c, p, err := wd.load(name)
			if !errors.Is(err, fs.ErrNotExist) {
				return c, p, err
			}
		}
	}
	if st, err := os.Stat(name); err == nil && st.Mode().IsRegular() {
		c, err := readContextFile(name)
		return c, name, err
	}
	where := dir.dir
	if wd, ok := washContexts(); ok {
		where += " nor in " + wd.dir
	}
	return nil, "", fmt.Errorf("--context %s: no such context in %s, and no such file (see `trellis ctx list`)", name, where)
}

// registerContextFlag adds --context to a command that connects like ctl.
func registerContextFlag(fs *pflag.FlagSet) {
	fs.String("context", "", "named connection from `trellis ctx` (or wash's ~/.wash/contexts, or a context file) for the flags not given (default: the default context, if set)")
	withEnvNames(fs, "context", "TRELLIS_CONTEXT")
}

// applyFlagSources fills the flags of cmd not given on the command line: from the environment,
// then from the context.
func applyFlagSources(cmd *cobra.Command) error {
	if err := applyEnv(cmd); err != nil {
		return err
	}
	return applyContext(cmd)
}

// applyContext sets the flags of cmd that neither the command line nor the environment gave
// from the chosen context. Commands without --context take none.
func applyContext(cmd *cobra.Command) error {
	fl := cmd.Flags()
	cf := fl.Lookup("context")
	if cf == nil {
		return nil
	}
	c, file, err := resolveContext(cf.Value.String())
	if err != nil || c == nil {
		return err
	}
	// One way to authenticate: a context's is dropped when the command line or the environment
	// gave another.
	authGiven := slices.ContainsFunc(authFlags, fl.Changed)
	for _, kv := range c.flagValues() {
		f := fl.Lookup(kv[0])
		if f == nil || f.Changed {
			continue
		}
		if kv[0] == "nats-url" && serverFromElsewhere(fl) || authGiven && slices.Contains(authFlags, kv[0]) {
			continue
		}
		if err := fl.Set(kv[0], kv[1]); err != nil {
			return fmt.Errorf("context %s: %s %q: %w", file, contextField[kv[0]], kv[1], err)
		}
	}
	return nil
}

var authFlags = []string{"nats-creds", "nats-user", "nats-password", "nats-token", "ctl-jwt", "ctl-seed"}

// serverFromElsewhere reports whether the server was given by wash's flags or variables, which
// come before a context's.
func serverFromElsewhere(fl *pflag.FlagSet) bool {
	if fl.Changed("ctl-host") || fl.Changed("ctl-port") {
		return true
	}
	pairs := [][2]string{ctlHostPort}
	if fl.Lookup("rpc-timeout") != nil { // ctl call reads wash's RPC variables too
		pairs = append(pairs, rpcHostPort)
	}
	for _, p := range pairs {
		if _, _, ok := lookupEnv(p[0], p[1]); ok {
			return true
		}
	}
	return false
}
