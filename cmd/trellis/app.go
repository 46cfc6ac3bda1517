package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/oam"
)

// `trellis app` manages declarative applications (wadm's OAM manifests) like wash's `app` verbs:
// it writes manifests and deployments into the lattice's apps store (package lattice/app) and
// reads back the status the hosts' reconciler keeps there. It never starts or stops anything
// itself: the reconciler does.

func newAppCmd() *cobra.Command {
	f := &ctlFlags{}
	cmd := &cobra.Command{
		Use:   "app",
		Short: "Declarative applications (wadm's OAM manifests): put, deploy, list, status",
		Long: `Store application manifests (wadm's OAM format, YAML or JSON) in the lattice's JetStream
and deploy them: the reconciler running in the hosts then keeps the lattice at the deployed
version of every app, and writes each app's status, which ` + "`app status`" + ` and ` + "`app list`" + ` show.
Connects like ` + "`trellis ctl`" + `: --nats-url (default nats://127.0.0.1:4222), --lattice (default
"default"). Tables by default; -o json for scripts.`,
	}
	f.register(cmd.PersistentFlags())
	f.registerReplicas(cmd.PersistentFlags(), "replicas of the apps bucket when an app command is the first to create it (the hosts' --js-replicas)")
	// app commands sign nothing; the flag is shared with ctl and stays accepted, but unlisted.
	_ = cmd.PersistentFlags().MarkHidden("cluster-seed")
	cmd.AddCommand(newAppPutCmd(f), newAppDeployCmd(f), newAppUndeployCmd(f), newAppDelCmd(f),
		newAppListCmd(f), newAppGetCmd(f), newAppHistoryCmd(f), newAppStatusCmd(f))
	return withWashFlagNames(cmd)
}

// appSession is a ctl session with JetStream, for the apps store.
type appSession struct {
	*ctlSession
	js jetstream.JetStream
	// replicas of the apps bucket should this session create it (--js-replicas)
	replicas int
}

// connectApps connects like ctl does; JetStream requests time out after --ctl-timeout.
func (f *ctlFlags) connectApps(cmd *cobra.Command) (*appSession, error) {
	if err := lattice.CheckReplicas(f.jsReplicas); err != nil {
		return nil, fmt.Errorf("--js-replicas: %w", err)
	}
	s, err := f.connect(cmd, false)
	if err != nil {
		return nil, err
	}
	js, err := lattice.NewJetStream(s.nc, f.jsDomain, jetstream.WithDefaultTimeout(time.Duration(f.timeout)))
	if err != nil {
		s.close()
		return nil, fmt.Errorf("jetstream on %s: %w", s.url, err)
	}
	return &appSession{ctlSession: s, js: js, replicas: f.jsReplicas}, nil
}

// errNoStore: the lattice has no apps bucket yet, so it has no apps.
var errNoStore = errors.New("no apps store")

// store opens the lattice's apps store. Writers create it when it does not exist (with
// --js-replicas: hosts started before create it with theirs); readers do not, and get errNoStore.
func (s *appSession) store(ctx context.Context, create bool) (*app.Store, error) {
	if !create {
		_, err := s.js.KeyValue(ctx, app.BucketName(s.Lattice()))
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, fmt.Errorf("%w on lattice %q (bucket %s does not exist): no app has been put; put one with `trellis app put FILE`",
				errNoStore, s.Lattice(), app.BucketName(s.Lattice()))
		}
		if err != nil {
			return nil, s.jsError(err)
		}
	}
	st, err := app.OpenStore(ctx, s.js, s.Lattice(), s.replicas)
	if err != nil {
		return nil, s.jsError(err)
	}
	return st, nil
}

// jsError explains the usual reason JetStream does not answer.
func (s *appSession) jsError(err error) error {
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("apps store of lattice %q: %w (does the NATS server at %s run JetStream? `trellis up` does)", s.Lattice(), err, s.url)
	}
	return err
}

// notFound says an app is unknown, listing the apps there are.
func notFound(ctx context.Context, st *app.Store, name string, err error) error {
	if !errors.Is(err, app.ErrNotFound) {
		return err
	}
	all, lerr := st.List(ctx)
	if lerr != nil || len(all) == 0 {
		return fmt.Errorf("%w on lattice %q (no apps)", err, st.Lattice())
	}
	names := make([]string, len(all))
	for i, r := range all {
		names[i] = r.Name
	}
	return fmt.Errorf("%w on lattice %q (apps: %s)", err, st.Lattice(), strings.Join(names, ", "))
}

// appNameArgs checks the count of arguments with arity, then the app NAME (the first) with
// app.CheckName: a name no app can have is refused before connecting.
func appNameArgs(arity cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := arity(cmd, args); err != nil {
			return err
		}
		return app.CheckName(args[0])
	}
}

// manifestFileName reports whether a file name is one of a manifest: *.yaml, *.yml or *.json.
func manifestFileName(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// looksLikeManifest reports whether an argument of `app deploy` names a manifest rather than an
// app: "-" (stdin), a YAML or JSON file name, or a file that exists.
func looksLikeManifest(arg string) bool {
	if arg == "-" {
		return true
	}
	if manifestFileName(arg) {
		return true
	}
	st, err := os.Stat(arg)
	return err == nil && st.Mode().IsRegular()
}

// readManifest reads and checks a manifest from a file, or from stdin for "-". A bad manifest's
// error is oam's (field, line, reason), prefixed with the file.
func readManifest(cmd *cobra.Command, path string) (*oam.Manifest, error) {
	var data []byte
	var err error
	name := path
	if path == "-" {
		name = "stdin"
		data, err = io.ReadAll(cmd.InOrStdin())
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	m, err := oam.Parse(data)
	if err != nil {
		return nil, manifestError{file: name, err: err}
	}
	return m, nil
}

// manifestError is a manifest refused by oam: "FILE: problem", or with several problems one per
// line under "FILE: N problems:".
type manifestError struct {
	file string
	err  error
}

func (e manifestError) Error() string {
	var ve *oam.ValidationError
	if errors.As(e.err, &ve) && len(ve.Errors) > 1 {
		lines := make([]string, len(ve.Errors))
		for i, fe := range ve.Errors {
			lines[i] = "  " + fe.Error()
		}
		return fmt.Sprintf("%s: %d problems:\n%s", e.file, len(ve.Errors), strings.Join(lines, "\n"))
	}
	return e.file + ": " + e.err.Error()
}

func (e manifestError) Unwrap() error { return e.err }

// putManifest stores a manifest as the user's ("" owner), warning on stderr when it was another
// owner's (a Helm release's hosts put and deploy their version again when they start).
func putManifest(cmd *cobra.Command, st *app.Store, m *oam.Manifest) (app.PutResult, error) {
	ctx := cmd.Context()
	if prev, err := st.Get(ctx, m.Metadata.Name); err == nil && prev.Owner != "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "Warning: app %s was put by %s, which puts and deploys its own version again when its hosts start; this put makes the app yours\n",
			m.Metadata.Name, prev.Owner)
	}
	return st.Put(ctx, m, "")
}

func describePut(w io.Writer, res app.PutResult) {
	if res.Created {
		fmt.Fprintf(w, "Put app %s version %s\n", res.Name, res.Version)
		return
	}
	fmt.Fprintf(w, "App %s version %s unchanged (stored before with the same manifest)\n", res.Name, res.Version)
}

func newAppPutCmd(f *ctlFlags) *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "put FILE",
		Short: "Store a manifest (YAML or JSON; - reads stdin) as a new version of its app, without deploying it",
		Long: `Store a manifest as a new version of its app. The version is the manifest's version annotation,
or a generated, time-ordered one when it has none. Putting a version that exists with the same
manifest changes nothing ("unchanged"); with another manifest it is refused. A manifest that is
not valid is refused with the field, line and reason, and nothing is stored.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := readManifest(cmd, args[0])
			if err != nil {
				return err
			}
			s, err := f.connectApps(cmd)
			if err != nil {
				return err
			}
			defer s.close()
			ctx := cmd.Context()
			st, err := s.store(ctx, true)
			if err != nil {
				return err
			}
			res, err := putManifest(cmd, st, m)
			if err != nil {
				return err
			}
			if out == outputJSON {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			describePut(cmd.OutOrStdout(), res)
			return nil
		},
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

// deployResult is what `app deploy` prints with -o json.
type deployResult struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Put is what the put of a manifest file stored; nil when deploying a stored version.
	Put *app.PutResult `json:"put,omitempty"`
	// Changed is false when the version was deployed already.
	Changed bool `json:"changed"`
	Waited  bool `json:"waited"`
	// Status is the status the wait ended on.
	Status *app.Status `json:"status,omitempty"`
}

func newAppDeployCmd(f *ctlFlags) *cobra.Command {
	var (
		out  outputFormat
		wait appWaitFlags
	)
	cmd := &cobra.Command{
		Use:   "deploy FILE | NAME [VERSION]",
		Short: "Deploy a version of an app (the latest when none is given), or put and deploy a manifest file",
		Long: `Make a version of an app its deployed version: the reconciler then brings the lattice to it
(and removes what an earlier version started that this one does not ask for). Without VERSION
the latest version put is deployed. An argument that is "-", ends in .yaml, .yml or .json, or
names an existing file is a manifest: it is put (see ` + "`app put`" + `) and that version deployed.
With --wait the command returns once the app's status says deployed, and fails with the last
status message when it says failed or --timeout passes.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var m *oam.Manifest
			if looksLikeManifest(args[0]) {
				if len(args) == 2 {
					return fmt.Errorf("app deploy %s: a manifest file deploys its own version; %q is one argument too many (to deploy a stored version: app deploy NAME VERSION)", args[0], args[1])
				}
				var err error
				if m, err = readManifest(cmd, args[0]); err != nil {
					return err
				}
			} else if err := app.CheckName(args[0]); err != nil {
				return fmt.Errorf("app deploy %s: no such manifest file, nor an app name: %w", args[0], err)
			}
			s, err := f.connectApps(cmd)
			if err != nil {
				return err
			}
			defer s.close()
			ctx := cmd.Context()
			st, err := s.store(ctx, m != nil)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			res := deployResult{Name: args[0]}
			if len(args) == 2 {
				res.Version = args[1]
			}
			if m != nil {
				put, err := putManifest(cmd, st, m)
				if err != nil {
					return err
				}
				res.Put, res.Name, res.Version = &put, put.Name, put.Version
				if out != outputJSON {
					describePut(w, put)
				}
			}
			before, err := st.Get(ctx, res.Name)
			if err != nil {
				return notFound(ctx, st, res.Name, err)
			}
			if res.Version, err = st.Deploy(ctx, res.Name, res.Version); err != nil {
				return err
			}
			res.Changed = before.Deployed != res.Version
			if out != outputJSON {
				switch {
				case res.Changed && before.Deployed != "":
					fmt.Fprintf(w, "Deployed app %s version %s (was %s)\n", res.Name, res.Version, before.Deployed)
				case res.Changed:
					fmt.Fprintf(w, "Deployed app %s version %s\n", res.Name, res.Version)
				default:
					fmt.Fprintf(w, "App %s version %s was deployed already\n", res.Name, res.Version)
				}
			}
			if wait.wait {
				res.Waited = true
				res.Status, err = wait.until(ctx, s, st, cmd.ErrOrStderr(), out, res.Name, deployedOf(res.Name, res.Version))
				if err != nil {
					return err
				}
				if out != outputJSON {
					fmt.Fprintf(w, "App %s version %s is deployed: %s\n", res.Name, res.Version, componentSummary(res.Status))
				}
			}
			if out == outputJSON {
				return writeJSON(w, res)
			}
			return nil
		},
	}
	wait.register(cmd, "deployed")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

// undeployResult is what `app undeploy` prints with -o json.
type undeployResult struct {
	Name string `json:"name"`
	// Version is the version that was deployed; "" when the app was not deployed.
	Version string      `json:"version,omitempty"`
	Changed bool        `json:"changed"`
	Waited  bool        `json:"waited"`
	Status  *app.Status `json:"status,omitempty"`
}

func newAppUndeployCmd(f *ctlFlags) *cobra.Command {
	var (
		out  outputFormat
		wait appWaitFlags
	)
	cmd := &cobra.Command{
		Use:   "undeploy NAME",
		Short: "Undeploy an app: the reconciler removes what it started for it; its versions stay stored",
		Long: `Mark an app as undeployed: the reconciler then stops what it started for the app. Its versions
stay in the store (deploy one again, or delete them with ` + "`app del`" + `). With --wait the command
returns once nothing of the app runs any more.`,
		Args: appNameArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			s, err := f.connectApps(cmd)
			if err != nil {
				return err
			}
			defer s.close()
			ctx := cmd.Context()
			st, err := s.store(ctx, false)
			if err != nil {
				return err
			}
			before, err := st.Get(ctx, name)
			if err != nil {
				return notFound(ctx, st, name, err)
			}
			if err := st.Undeploy(ctx, name); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			res := undeployResult{Name: name, Version: before.Deployed, Changed: before.Deployed != ""}
			if out != outputJSON {
				if res.Changed {
					fmt.Fprintf(w, "Undeployed app %s (was version %s)\n", name, before.Deployed)
				} else {
					fmt.Fprintf(w, "App %s was not deployed\n", name)
				}
			}
			if wait.wait {
				res.Waited = true
				res.Status, err = wait.until(ctx, s, st, cmd.ErrOrStderr(), out, name, undeployedOf(name))
				if err != nil {
					return err
				}
				if out != outputJSON {
					fmt.Fprintf(w, "App %s is undeployed: nothing of it runs\n", name)
				}
			}
			if out == outputJSON {
				return writeJSON(w, res)
			}
			return nil
		},
	}
	wait.register(cmd, "undeployed")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

// deleteResult is what `app del` prints with -o json.
type deleteResult struct {
	Name string `json:"name"`
	// Version is the version deleted; "" when the whole app was.
	Version string `json:"version,omitempty"`
	Deleted bool   `json:"deleted"`
}

func newAppDelCmd(f *ctlFlags) *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:     "del NAME [VERSION]",
		Aliases: []string{"delete"},
		Short:   "Delete one version of an app, or the whole app; what is deployed cannot be deleted",
		Args:    appNameArgs(cobra.RangeArgs(1, 2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			res := deleteResult{Name: args[0]}
			if len(args) == 2 {
				res.Version = args[1]
			}
			s, err := f.connectApps(cmd)
			if err != nil {
				return err
			}
			defer s.close()
			ctx := cmd.Context()
			st, err := s.store(ctx, false)
			if err != nil {
				return err
			}
			if _, err := st.Get(ctx, res.Name); err != nil {
				return notFound(ctx, st, res.Name, err)
			}
			if err := st.Delete(ctx, res.Name, res.Version); err != nil {
				return err
			}
			res.Deleted = true
			w := cmd.OutOrStdout()
			if out == outputJSON {
				return writeJSON(w, res)
			}
			if res.Version == "" {
				fmt.Fprintf(w, "Deleted app %s (every version)\n", res.Name)
			} else {
				fmt.Fprintf(w, "Deleted version %s of app %s\n", res.Version, res.Name)
			}
			return nil
		},
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}
