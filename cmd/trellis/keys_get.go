package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

func newKeysGetCmd() *cobra.Command {
	var (
		seed bool
		dir  string
		out  outputFormat
	)
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Print a stored key pair's public key (and, with --seed, its seed)",
		Long: `Print the public key of the keystore key NAME: a file name as ` + "`keys list`" + ` shows it
(echo_module.nk), a name and kind (echo_module), or a bare name when one kind only has it (echo).
With --seed the seed is printed too: wash's ` + "`keys get`" + ` printed the seed alone, which
` + "`-o json --seed`" + ` gives as the "seed" field. Treat the seed as a secret.`,
		Example: "  trellis keys get default_cluster.nk\n  trellis keys get echo --seed -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ks, err := defaultKeyStore()
			if err != nil {
				return err
			}
			if dir != "" {
				ks.dir = dir
			}
			k, path, err := ks.find(args[0])
			if err != nil {
				return err
			}
			kp, err := readSeedFile(path)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			res := map[string]string{"name": k.Name, "kind": kp.Prefix().String(), "file": path, "public_key": kp.PublicKey()}
			var s string
			if seed {
				if s, err = kp.Seed(); err != nil {
					return fmt.Errorf("key %s: %w", path, err)
				}
				res["seed"] = s
			}
			if out == outputJSON {
				return writeJSON(w, res)
			}
			fmt.Fprintf(w, "Public Key: %s\n", kp.PublicKey())
			if seed {
				fmt.Fprintf(w, "Seed: %s\n\nRemember that the seed is private, treat it as a secret.\n", s)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&seed, "seed", "s", false, "print the seed as well")
	cmd.Flags().StringVarP(&dir, "directory", "d", "", "keystore directory (default: $TRELLIS_KEYS_DIR, else $WASH_KEYS, else ~/.trellis/keys)")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

// find resolves NAME as `keys get` takes it: FILE.nk, NAME_KIND or a NAME of one kind only.
func (s keyStore) find(name string) (storedKey, string, error) {
	if name == "" || filepath.Base(name) != name || strings.HasPrefix(name, ".") {
		return storedKey{}, "", fmt.Errorf("key name %q: give a file name of the keystore (see `trellis keys list`), not a path", name)
	}
	keys, err := s.list()
	if err != nil {
		return storedKey{}, "", err
	}
	var matches []storedKey
	for _, k := range keys {
		if k.File == name || k.File == name+".nk" {
			return k, filepath.Join(s.dir, k.File), nil
		}
		if k.Name == name {
			matches = append(matches, k)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], filepath.Join(s.dir, matches[0].File), nil
	case 0:
		return storedKey{}, "", fmt.Errorf("no key %q in %s (`trellis keys list` shows what is there)", name, s.dir)
	}
	files := make([]string, len(matches))
	for i, k := range matches {
		files[i] = k.File
	}
	return storedKey{}, "", fmt.Errorf("key %q is ambiguous in %s: %s; give the file name", name, s.dir, strings.Join(files, ", "))
}
