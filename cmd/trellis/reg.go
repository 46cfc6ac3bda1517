package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/oci"
)

// regFlags are the registry flags of `reg` and `inspect`.
type regFlags struct {
	allowLatest bool
	insecure    bool
	user        string
	password    string
}

func (f *regFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.allowLatest, "allow-latest", false, "allow the :latest tag (or no tag)")
	f.registerAuth(fs)
}

// registerAuth adds the flags of reaching a registry: --insecure, --user and --password.
func (f *regFlags) registerAuth(fs *pflag.FlagSet) {
	fs.BoolVar(&f.insecure, "insecure", false, "reach the registry over plain HTTP")
	fs.StringVarP(&f.user, "user", "u", "", "registry user name")
	withEnvNames(fs, "user", "OCI_REGISTRY_USER", "WASH_REG_USER")
	fs.StringVarP(&f.password, "password", "p", "", "registry password")
	withEnvNames(fs, "password", "OCI_REGISTRY_PASSWORD", "WASH_REG_PASSWORD")
}

// client returns an OCI client for ref's registry: --user and --password when given, else
// OCI_REGISTRY… (when OCI_REGISTRY names that registry), else the docker config.
func (f *regFlags) client(ref string) (*oci.Client, error) {
	r, err := lattice.ParseOCIRef(ref)
	if err != nil {
		return nil, err
	}
	return f.registryClient(r.Registry)
}

// registryClient returns an OCI client for one registry (host[:port]), with the credentials and
// plain-HTTP rule client describes.
func (f *regFlags) registryClient(registry string) (*oci.Client, error) {
	creds, err := ociEnvCredentials()
	if err != nil {
		return nil, err
	}
	if (f.user == "") != (f.password == "") {
		return nil, errors.New("--user and --password go together (or OCI_REGISTRY_USER and OCI_REGISTRY_PASSWORD)")
	}
	if f.user != "" {
		creds = lattice.RegistryCredentialMap{registry: {Username: f.user, Password: f.password}}
	}
	cfg := oci.Config{
		AllowLatest:  f.allowLatest,
		Credentials:  creds,
		DockerConfig: dockerConfigPath(),
		Advice: oci.Advice{
			Latest:      "pin a version, or pass --allow-latest",
			Insecure:    "; pass --insecure to use it",
			Credentials: "pass --user and --password (or OCI_REGISTRY_USER and OCI_REGISTRY_PASSWORD), or `docker login` first",
			Size:        " (the most trellis reg handles)",
		},
	}
	if f.insecure {
		cfg.AllowedInsecure = []string{registry}
	}
	return oci.NewClient(cfg)
}

// ociEnvCredentials reads OCI_REGISTRY, OCI_REGISTRY_USER and OCI_REGISTRY_PASSWORD (wasmCloud's
// names): the credentials apply to that one registry only.
func ociEnvCredentials() (lattice.RegistryCredentialMap, error) {
	reg, user, pass := os.Getenv("OCI_REGISTRY"), os.Getenv("OCI_REGISTRY_USER"), os.Getenv("OCI_REGISTRY_PASSWORD")
	switch {
	case user == "" && pass == "":
		return nil, nil
	case reg == "":
		return nil, errors.New("OCI_REGISTRY_USER/OCI_REGISTRY_PASSWORD are set but OCI_REGISTRY is not: set it to the registry (host:port) they are for")
	case user == "" || pass == "":
		return nil, errors.New("OCI_REGISTRY_USER and OCI_REGISTRY_PASSWORD go together: one of them is empty")
	}
	return lattice.RegistryCredentialMap{reg: {RegistryType: "oci", Username: user, Password: pass}}, nil
}

// dockerConfigPath is docker's config.json: $DOCKER_CONFIG/config.json, else
// ~/.docker/config.json; "" when there is none.
func dockerConfigPath() string {
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".docker")
	}
	p := filepath.Join(dir, "config.json")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

func newRegCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reg",
		Short: "Push and pull actors and provider archives to and from OCI registries",
		Long: `Push and pull wasmCloud artifacts to and from an OCI registry, with wasmCloud's media types:
an actor is a manifest with config application/vnd.wasmcloud.actor.archive.config and one layer
application/vnd.module.wasm.content.layer.v1+wasm; a provider archive, config
application/vnd.wasmcloud.provider.archive.config and layer
application/vnd.wasmcloud.provider.archive.layer.v1+par. See docs/oci.md.`,
	}
	cmd.AddCommand(newRegPushCmd(), newRegPullCmd(), newRegPingCmd())
	return cmd
}

// regResult is what push and pull print with -o json.
type regResult struct {
	Ref            string `json:"ref"`
	Kind           string `json:"kind"`
	Key            string `json:"key,omitempty"`
	ManifestDigest string `json:"manifest_digest"`
	LayerDigest    string `json:"layer_digest"`
	Size           int64  `json:"size"`
	File           string `json:"file,omitempty"`
}

func kindName(k oci.Kind) string {
	if k == oci.KindProvider {
		return "provider"
	}
	return "actor"
}

// artifactKey returns the public key an artifact's claims name, or "".
func artifactKey(kind oci.Kind, data []byte) string {
	if kind == oci.KindProvider {
		if par, err := lattice.ReadPAR(bytes.NewReader(data)); err == nil {
			return par.Claims.Subject
		}
		return ""
	}
	if c, err := lattice.VerifyActor(data, time.Now()); err == nil {
		return c.Subject
	}
	return ""
}

func newRegPushCmd() *cobra.Command {
	var (
		f   regFlags
		out outputFormat
	)
	cmd := &cobra.Command{
		Use:   "push REF FILE",
		Short: "Push a signed actor (.wasm) or a provider archive (.par.gz) to REF",
		Long: `Push FILE to the OCI reference REF (REGISTRY/REPOSITORY:TAG). A wasm module is pushed as an
actor, a gzip'd file as a provider archive; either is verified first (claims, signatures, hashes).`,
		Example: "  trellis reg push 127.0.0.1:5000/echo:0.1.0 build/actors/echo_s.wasm --insecure\n  trellis reg push ghcr.io/org/httpserver:0.16.3 httpserver.par.gz -u me -p $TOKEN",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, file := args[0], args[1]
			data, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("push %s: %w", ref, err)
			}
			c, err := f.client(ref)
			if err != nil {
				return err
			}
			a, err := c.Push(cmd.Context(), ref, data, nil)
			if err != nil {
				return err
			}
			res := regResult{Ref: ref, Kind: kindName(a.Kind), Key: artifactKey(a.Kind, data),
				ManifestDigest: a.ManifestDigest, LayerDigest: a.LayerDigest, Size: a.Size, File: file}
			if out == outputJSON {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Pushed %s %s (%s) to %s\n  manifest %s\n", res.Kind, res.Key, humanBytes(a.Size), ref, a.ManifestDigest)
			return nil
		},
	}
	f.register(cmd.Flags())
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func newRegPullCmd() *cobra.Command {
	var (
		f      regFlags
		dest   string
		digest string
		out    outputFormat
	)
	cmd := &cobra.Command{
		Use:   "pull REF",
		Short: "Pull an actor or a provider archive from REF into a file",
		Long: `Pull the artifact at REF and write its layer (the signed module or the .par.gz) to
--destination, by default REPOSITORY.wasm or REPOSITORY.par.gz in the current directory. With
--digest, the manifest REF resolves to must be that digest (as ` + "`reg push`" + ` printed it), else
nothing is written and the exit code is 1.`,
		Example: "  trellis reg pull 127.0.0.1:5000/echo:0.1.0 --insecure -d echo_s.wasm\n  trellis reg pull ghcr.io/org/echo:0.1.0 --digest sha256:…",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := args[0]
			c, err := f.client(ref)
			if err != nil {
				return err
			}
			a, err := pullVerified(cmd.Context(), c, ref, oci.KindAny, digest)
			if err != nil {
				return err
			}
			if dest == "" {
				dest = path.Base(a.Ref.Repository) + ".wasm"
				if a.Kind == oci.KindProvider {
					dest = path.Base(a.Ref.Repository) + ".par.gz"
				}
			}
			if err := writeFileAtomic(dest, a.Data); err != nil {
				return fmt.Errorf("pull %s: %w", ref, err)
			}
			res := regResult{Ref: ref, Kind: kindName(a.Kind), Key: artifactKey(a.Kind, a.Data),
				ManifestDigest: a.ManifestDigest, LayerDigest: a.LayerDigest, Size: a.Size, File: dest}
			if out == outputJSON {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Pulled %s %s (%s) from %s to %s\n", res.Kind, res.Key, humanBytes(a.Size), ref, dest)
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().StringVarP(&dest, "destination", "d", "", "file to write (default: REPOSITORY.wasm or REPOSITORY.par.gz)")
	cmd.Flags().StringVar(&digest, "digest", "", "manifest digest (sha256:…) the artifact must have")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func writeFileAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	if _, err := io.Copy(tmp, bytes.NewReader(data)); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// humanBytes renders a size like 1.9 MiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
