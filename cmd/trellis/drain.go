package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-lattice/trellis/host"
)

// The caches a host keeps under its data dir (host.Config: DataDir/oci, DataDir/wazero,
// DataDir/providers), as `trellis drain` names them. DataDir/jetstream, the embedded server's
// store of `trellis up`, is lattice state (links, claims, apps), not a cache: drain never touches
// it, nor DataDir/providers/pids, the records of running provider processes.
const (
	cacheOCI       = "oci"
	cacheProviders = "providers"
	cacheCompiled  = "compiled"
	cacheDownloads = "downloads"
)

// drainSelections maps wash's names (and Trellis's finer ones) to caches.
var drainSelections = map[string][]string{
	"all":          {cacheOCI, cacheProviders, cacheCompiled, cacheDownloads},
	"oci":          {cacheOCI},
	"lib":          {cacheProviders, cacheCompiled},
	cacheProviders: {cacheProviders},
	cacheCompiled:  {cacheCompiled},
	cacheDownloads: {cacheDownloads},
}

// drainTmpAge is how recent a *.tmp file must be to count as being written (a pull or a
// compilation at work), and be kept.
const drainTmpAge = 10 * time.Minute

func newDrainCmd() *cobra.Command {
	var (
		dataDir string
		out     outputFormat
	)
	cmd := &cobra.Command{
		Use:   "drain all|oci|lib|downloads",
		Short: "Remove the caches hosts keep on this machine, and say what was freed",
		Long: `Remove the files of the caches Trellis hosts keep under --data-dir (the directory of
` + "`trellis up`" + ` and ` + "`trellis host`" + `), and print each cache's path, files and bytes freed.
wash's names map to Trellis's caches:

  oci        DATA_DIR/oci: manifests and layers pulled from OCI registries (wash: OCI cache)
  lib        DATA_DIR/providers and DATA_DIR/wazero: binaries extracted from provider archives and
             the compiled actor modules (wazero's compilation cache); wash: extracted binaries.
             ` + "`drain providers`" + ` and ` + "`drain compiled`" + ` take one of the two
  downloads  nothing: Trellis downloads no host or NATS binaries (` + "`trellis up`" + ` runs them in
             process), and its only downloads are OCI artifacts, in oci
  all        all of the above

Never drained: DATA_DIR/jetstream (the lattice state of ` + "`trellis up`" + `'s embedded NATS server) and
DATA_DIR/providers/pids. A host running on this data dir may keep running: the binary of a
provider process it runs is kept (on Linux the processes are told from the host's records;
elsewhere they cannot be, and are not protected), files being written (*.tmp of the last 10
minutes) are kept, and the cache directories stay, so the host downloads, extracts and compiles
again what it needs next.`,
		Example:   "  trellis drain all\n  trellis drain oci --data-dir /var/lib/trellis -o json",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"all", "oci", "lib", "downloads", cacheProviders, cacheCompiled},
		RunE: func(cmd *cobra.Command, args []string) error {
			caches, ok := drainSelections[strings.ToLower(args[0])]
			if !ok {
				return fmt.Errorf("drain %q: want all, oci, lib or downloads (or providers, compiled)", args[0])
			}
			res, err := drain(dataDir, caches, time.Now())
			if err != nil {
				return err
			}
			if out == outputJSON {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			return writeDrain(cmd, res)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", defaultDataDir(), "the hosts' data directory")
	withEnv(cmd.Flags(), "data-dir")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

// drainReport is what drain did, as -o json prints it.
type drainReport struct {
	DataDir    string        `json:"data_dir"`
	FreedBytes int64         `json:"freed_bytes"`
	Caches     []cacheReport `json:"caches"`
}

type cacheReport struct {
	Cache      string     `json:"cache"`
	Path       string     `json:"path"`
	Files      int        `json:"files"`
	FreedBytes int64      `json:"freed_bytes"`
	Kept       []keptFile `json:"kept"`
	Note       string     `json:"note,omitempty"`
}

type keptFile struct {
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	Reason string `json:"reason"`
}

func drain(dataDir string, caches []string, now time.Time) (drainReport, error) {
	rep := drainReport{DataDir: dataDir}
	root, err := filepath.Abs(dataDir)
	if err == nil {
		if r, lerr := filepath.EvalSymlinks(root); lerr == nil {
			root = r // /proc shows the binaries of running providers without symlinks
		}
	}
	if err != nil {
		return rep, fmt.Errorf("drain: --data-dir %s: %w", dataDir, err)
	}
	var running []host.ProviderProcess
	if slices.Contains(caches, cacheProviders) {
		if running, err = host.RunningProviders(root); err != nil {
			return rep, fmt.Errorf("drain: %w", err)
		}
	}
	for _, c := range caches {
		var r cacheReport
		switch c {
		case cacheOCI:
			r, err = drainDir(c, filepath.Join(root, "oci"), false, nil, now)
		case cacheProviders:
			r, err = drainDir(c, filepath.Join(root, "providers"), false, running, now)
		case cacheCompiled:
			// The directories stay: a running host's wazero writes into them and fails a
			// compilation when they are gone.
			r, err = drainDir(c, filepath.Join(root, "wazero"), true, nil, now)
		case cacheDownloads:
			r = cacheReport{Cache: c, Kept: []keptFile{}, Note: "nothing: Trellis downloads no host or NATS binaries (trellis up runs them in process); OCI pulls are in oci"}
		}
		if err != nil {
			return rep, err
		}
		rep.FreedBytes += r.FreedBytes
		rep.Caches = append(rep.Caches, r)
	}
	return rep, nil
}

// drainDir removes the files under dir, but for those in use, being written, and the provider
// records; with keepDirs the directories stay, else the emptied ones below dir are removed.
func drainDir(name, dir string, keepDirs bool, running []host.ProviderProcess, now time.Time) (cacheReport, error) {
	r := cacheReport{Cache: name, Path: dir, Kept: []keptFile{}}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		r.Note = "nothing there"
		return r, nil
	}
	inUse := map[string]host.ProviderProcess{}
	var unknown []int
	for _, p := range running {
		if p.Binary == "" {
			unknown = append(unknown, p.PID)
			continue
		}
		inUse[p.Binary] = p
	}
	var dirs []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed under the walk (a host cleaning up)
		}
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name == cacheProviders && path == filepath.Join(dir, "pids") {
				return fs.SkipDir
			}
			if path != dir {
				dirs = append(dirs, path)
			}
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		size := info.Size()
		if p, ok := inUse[path]; ok {
			r.Kept = append(r.Kept, keptFile{Path: path, Bytes: size,
				Reason: fmt.Sprintf("in use by provider process %d of host process %d", p.PID, p.HostPID)})
			return nil
		}
		if name == cacheProviders && len(unknown) > 0 {
			r.Kept = append(r.Kept, keptFile{Path: path, Bytes: size,
				Reason: fmt.Sprintf("provider processes %v run from this data dir and their binaries cannot be told", unknown)})
			return nil
		}
		if strings.HasSuffix(path, ".tmp") && now.Sub(info.ModTime()) < drainTmpAge {
			r.Kept = append(r.Kept, keptFile{Path: path, Bytes: size, Reason: "being written"})
			return nil
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		r.Files++
		r.FreedBytes += size
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("drain %s: %w", name, err)
	}
	if !keepDirs {
		for _, d := range slices.Backward(dirs) {
			_ = os.Remove(d) // only empty directories go; the others hold what was kept
		}
	}
	return r, nil
}

func writeDrain(cmd *cobra.Command, rep drainReport) error {
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "Drained the caches under %s (the JetStream store of trellis up is kept)\n", rep.DataDir)
	t := newTable(w, "CACHE", "PATH", "FILES", "FREED", "KEPT OR NOTE")
	for _, c := range rep.Caches {
		kept := ""
		for _, k := range c.Kept {
			kept += fmt.Sprintf("%s (%s: %s); ", k.Path, humanBytes(k.Bytes), k.Reason)
		}
		kept = strings.TrimSuffix(kept, "; ")
		if c.Note != "" {
			t.row(c.Cache, c.Path, "0", "0 B", c.Note)
			continue
		}
		t.row(c.Cache, c.Path, fmt.Sprint(c.Files), humanBytes(c.FreedBytes), kept)
	}
	if err := t.flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "Freed %s\n", humanBytes(rep.FreedBytes))
	return err
}
