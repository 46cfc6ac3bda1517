package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/trellis-lattice/trellis/lattice"
)

// The keystore is a directory of seed files named like wash's: <name>_<kind>.nk, one seed per
// file, mode 0600, directory mode 0700. The directory is $TRELLIS_KEYS_DIR, else $WASH_KEYS,
// else ~/.trellis/keys. Names the CLI uses by itself (docs/cli.md):
//
//	<user>_account.nk     the issuer `claims sign` uses by default (user = $USER, else "user")
//	<file stem>_module.nk the subject of `claims sign FILE` (so an actor's id stays the same)
//	<lattice>_cluster.nk  the cluster key of `trellis up` and the signer of `ctl call`
type keyStore struct {
	dir string
}

// keysDirEnv are the variables naming the keystore directory, first set wins.
var keysDirEnv = []string{"TRELLIS_KEYS_DIR", "WASH_KEYS"}

func defaultKeyStore() (keyStore, error) {
	if _, v, ok := lookupEnv(keysDirEnv...); ok {
		return keyStore{dir: v}, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return keyStore{}, fmt.Errorf("keys directory: no home directory (set TRELLIS_KEYS_DIR): %w", err)
	}
	return keyStore{dir: filepath.Join(home, ".trellis", "keys")}, nil
}

var keyNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// path returns the file of key name of the given kind.
func (s keyStore) path(name string, kind lattice.KeyPrefix) (string, error) {
	if !keyNameRE.MatchString(name) {
		return "", fmt.Errorf("key name %q: use letters, digits, '.', '_' and '-' only", name)
	}
	return filepath.Join(s.dir, name+"_"+kind.String()+".nk"), nil
}

// load reads a key; the error wraps fs.ErrNotExist when there is none.
func (s keyStore) load(name string, kind lattice.KeyPrefix) (*lattice.KeyPair, string, error) {
	p, err := s.path(name, kind)
	if err != nil {
		return nil, "", err
	}
	kp, err := readSeedFile(p)
	if err != nil {
		return nil, p, err
	}
	if kp.Prefix() != kind {
		return nil, p, fmt.Errorf("key file %s: holds %s %s seed, want %s %s seed", p, article(kp.Prefix().String()), kp.Prefix(), article(kind.String()), kind)
	}
	return kp, p, nil
}

// save writes a key, refusing to overwrite a different one.
func (s keyStore) save(name string, kp *lattice.KeyPair) (string, error) {
	p, err := s.path(name, kp.Prefix())
	if err != nil {
		return "", err
	}
	seed, err := kp.Seed()
	if err != nil {
		return "", fmt.Errorf("save key %s: %w", p, err)
	}
	if old, err := readSeedFile(p); err == nil {
		if old.PublicKey() == kp.PublicKey() {
			return p, nil
		}
		return "", fmt.Errorf("save key %s: a different key already exists there; remove it first", p)
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return "", fmt.Errorf("save key: create keys directory: %w", err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("save key %s: %w", p, err)
	}
	if _, err := f.WriteString(seed + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("save key %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("save key %s: %w", p, err)
	}
	return p, nil
}

// loadOrCreate returns the stored key, generating and saving one when there is none; created
// says which happened.
func (s keyStore) loadOrCreate(name string, kind lattice.KeyPrefix) (kp *lattice.KeyPair, path string, created bool, err error) {
	kp, path, err = s.load(name, kind)
	if err == nil {
		return kp, path, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, path, false, err
	}
	kp, err = lattice.CreateKeyPair(kind)
	if err != nil {
		return nil, path, false, err
	}
	path, err = s.save(name, kp)
	if err != nil {
		return nil, path, false, err
	}
	return kp, path, true, nil
}

// storedKey is one file of the keystore.
type storedKey struct {
	File      string `json:"file"`
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	PublicKey string `json:"public_key"`
	Problem   string `json:"problem,omitempty"`
}

// list returns every .nk file, sorted by name; an absent directory is an empty list.
func (s keyStore) list() ([]storedKey, error) {
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list keys in %s: %w", s.dir, err)
	}
	var keys []storedKey
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".nk") {
			continue
		}
		k := storedKey{File: e.Name()}
		base := strings.TrimSuffix(e.Name(), ".nk")
		if i := strings.LastIndexByte(base, '_'); i > 0 {
			k.Name, k.Kind = base[:i], base[i+1:]
		} else {
			k.Name = base
		}
		if kp, err := readSeedFile(filepath.Join(s.dir, e.Name())); err != nil {
			k.Problem = err.Error()
		} else {
			k.PublicKey = kp.PublicKey()
			k.Kind = kp.Prefix().String()
		}
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].File < keys[j].File })
	return keys, nil
}

// readSeedFile reads a file holding one seed (surrounding space ignored).
func readSeedFile(path string) (*lattice.KeyPair, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	kp, err := lattice.KeyPairFromSeed(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return kp, nil
}

// seedOrFile resolves a flag value that is a seed, a PEM ed25519 private key (as Helm's
// genPrivateKey makes), or the path of a file holding either (like wash), checking the key kind.
func seedOrFile(flag, value string, kind lattice.KeyPrefix) (*lattice.KeyPair, error) {
	v := strings.TrimSpace(value)
	var kp *lattice.KeyPair
	var err error
	switch _, statErr := os.Stat(v); {
	case strings.HasPrefix(v, "S") && len(v) == 58, lattice.IsPEM(v):
		kp, err = keyFromText(kind, v)
	case statErr == nil:
		var b []byte
		if b, err = os.ReadFile(v); err == nil {
			kp, err = keyFromText(kind, string(b))
		}
		if err != nil {
			err = fmt.Errorf("key file %s: %w", v, err)
		}
	default:
		return nil, fmt.Errorf("--%s: neither a seed (S%c…), a PEM ed25519 key, nor an existing file", flag, kind.Letter())
	}
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flag, err)
	}
	if kp.Prefix() != kind {
		return nil, fmt.Errorf("--%s: is %s %s seed, want %s %s seed (S%c…)", flag, article(kp.Prefix().String()), kp.Prefix(), article(kind.String()), kind, kind.Letter())
	}
	return kp, nil
}

// keyFromText reads an S… seed, or a PEM ed25519 private key as a key of kind.
func keyFromText(kind lattice.KeyPrefix, text string) (*lattice.KeyPair, error) {
	if lattice.IsPEM(text) {
		return lattice.KeyPairFromPEM(kind, []byte(text))
	}
	return lattice.KeyPairFromSeed(strings.TrimSpace(text))
}

// accountKeyName is the keystore name of the user's default account key.
func accountKeyName() string {
	if u := os.Getenv("USER"); u != "" && keyNameRE.MatchString(u) {
		return u
	}
	return "user"
}

// article is "an" before a vowel, else "a".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}
