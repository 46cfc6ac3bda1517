package lattice

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"time"
)

// Provider archive limits, against decompression bombs.
const (
	maxPARSize    = 512 << 20 // uncompressed bytes, tar headers included
	maxPAREntries = 256
	maxClaimsSize = 1 << 20
)

// parClaimsFile is the archive member holding the signed provider claims.
const parClaimsFile = "claims.jwt"

var gzipMagic = []byte{0x1f, 0x8b}

// ErrNoTarget is returned when a provider archive has no binary for the wanted platform.
var ErrNoTarget = errors.New("no provider binary for this platform")

// ErrUntrustedIssuer is returned when a provider archive is signed by an account that is not
// one of PAROptions.Issuers.
var ErrUntrustedIssuer = errors.New("provider archive signed by an untrusted account")

// PAROptions are the checks ReadPARWith makes beyond those of every archive.
type PAROptions struct {
	// Issuers, when non-empty, are the only account keys (A…) whose archives are accepted. The
	// claims are checked as soon as they are read: the binaries of an archive signed by another
	// account are not even decompressed.
	Issuers []string
}

// ProviderArchive is a verified provider archive (.par.gz): signed claims and one executable per
// target, keyed by wasmCloud target name such as x86_64-linux.
type ProviderArchive struct {
	Claims  *ProviderClaims
	Token   string
	Targets map[string][]byte
}

// ReadPAR reads a provider archive (gzip'd tar or plain tar) and verifies it: claims.jwt must be
// signed by an account (A…) for a service key (V…) and valid now, and every binary's SHA-256 must
// match its target_hashes entry.
func ReadPAR(r io.Reader) (*ProviderArchive, error) {
	return ReadPARWith(r, PAROptions{})
}

// ReadPARWith reads and verifies a provider archive as ReadPAR does, and makes the checks of o.
func ReadPARWith(r io.Reader, o PAROptions) (*ProviderArchive, error) {
	p, err := readPAR(r, maxPARSize, time.Now(), o)
	if err != nil {
		return nil, fmt.Errorf("read provider archive: %w", err)
	}
	return p, nil
}

func readPAR(r io.Reader, limit int64, now time.Time, o PAROptions) (*ProviderArchive, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, gzipMagic) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		src = zr
	}
	lim := &limitedReader{r: src, left: limit,
		err: fmt.Errorf("archive is larger than %d MiB uncompressed", limit>>20)}
	files, err := readTarFiles(tar.NewReader(lim), lim, func(raw []byte) error { return checkIssuer(raw, now, o.Issuers) })
	if err != nil {
		return nil, err
	}
	return verifyPAR(files, now)
}

// checkIssuer checks, when issuers is not empty, that the claims in raw (claims.jwt) are validly
// signed by one of them.
func checkIssuer(raw []byte, now time.Time, issuers []string) error {
	if len(issuers) == 0 {
		return nil
	}
	var c ProviderClaims
	if err := ParseJWT(strings.TrimSpace(string(raw)), &c, now); err != nil {
		return fmt.Errorf("%s: %w", parClaimsFile, err)
	}
	if !slices.Contains(issuers, c.Issuer) {
		return fmt.Errorf("%w: %s (provider %s) is signed by account %s, which is not one of the %d trusted provider issuers",
			ErrUntrustedIssuer, parClaimsFile, short(c.Subject), c.Issuer, len(issuers))
	}
	return nil
}

// limitedReader fails with err instead of reporting EOF once its budget is spent.
type limitedReader struct {
	r    io.Reader
	left int64
	err  error
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, l.err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// readTarFiles returns the regular files of the archive by file stem (claims, x86_64-linux, …);
// claims is called with the claims entry as soon as it is read, and its error ends the read.
func readTarFiles(tr *tar.Reader, lim *limitedReader, claims func([]byte) error) (map[string][]byte, error) {
	files := map[string][]byte{}
	for count := 0; ; count++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, fmt.Errorf("tar: %w", err)
		}
		if count >= maxPAREntries {
			return nil, fmt.Errorf("more than %d entries", maxPAREntries)
		}
		switch hdr.Typeflag {
		case tar.TypeDir, tar.TypeXGlobalHeader:
			continue
		case tar.TypeReg:
		default:
			return nil, fmt.Errorf("entry %q: unsupported type %q (only regular files)", short(hdr.Name), hdr.Typeflag)
		}
		stem := fileStem(hdr.Name)
		if stem == "" {
			return nil, fmt.Errorf("entry %q: no file name", short(hdr.Name))
		}
		if _, dup := files[stem]; dup {
			return nil, fmt.Errorf("entry %q: duplicate %s", short(hdr.Name), stem)
		}
		if hdr.Size < 0 || hdr.Size > lim.left {
			return nil, fmt.Errorf("entry %q: %w", short(hdr.Name), lim.err)
		}
		if stem == "claims" && hdr.Size > maxClaimsSize {
			return nil, fmt.Errorf("%s is larger than %d KiB", parClaimsFile, maxClaimsSize>>10)
		}
		data, err := io.ReadAll(io.LimitReader(tr, hdr.Size))
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", short(hdr.Name), err)
		}
		if stem == "claims" {
			if err := claims(data); err != nil {
				return nil, err
			}
		}
		files[stem] = data
	}
}

// fileStem is the base name without its last extension, as Rust's Path::file_stem.
func fileStem(name string) string {
	base := path.Base(strings.ReplaceAll(name, "\\", "/"))
	if base == "." || base == "/" || base == ".." {
		return ""
	}
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		return base[:i]
	}
	return base
}

func verifyPAR(files map[string][]byte, now time.Time) (*ProviderArchive, error) {
	raw, ok := files["claims"]
	if !ok {
		return nil, fmt.Errorf("no %s", parClaimsFile)
	}
	delete(files, "claims")
	if len(raw) > maxClaimsSize {
		return nil, fmt.Errorf("%s is larger than %d KiB", parClaimsFile, maxClaimsSize>>10)
	}
	if len(files) == 0 {
		return nil, errors.New("no target binaries")
	}
	token := strings.TrimSpace(string(raw))
	var c ProviderClaims
	if err := ParseJWT(token, &c, now); err != nil {
		return nil, fmt.Errorf("%s: %w", parClaimsFile, err)
	}
	if err := CheckPublicKey(PrefixService, c.Subject); err != nil {
		return nil, fmt.Errorf("%s subject: %w", parClaimsFile, err)
	}
	if err := CheckPublicKey(PrefixAccount, c.Issuer); err != nil {
		return nil, fmt.Errorf("%s issuer: %w", parClaimsFile, err)
	}
	for _, target := range slices.Sorted(maps.Keys(files)) {
		want, ok := c.Provider.TargetHashes[target]
		if !ok {
			return nil, fmt.Errorf("%w: target %s is not listed in the claims' target_hashes", ErrHashMismatch, target)
		}
		if got := sha256Hex(files[target]); !strings.EqualFold(want, got) {
			return nil, fmt.Errorf("%w: target %s: claims say %s, binary hashes to %s", ErrHashMismatch, target, short(want), got)
		}
	}
	return &ProviderArchive{Claims: &c, Token: token, Targets: files}, nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// TargetName maps Go's GOOS/GOARCH to a wasmCloud target name such as x86_64-linux or
// aarch64-macos (Rust's ARCH-OS).
func TargetName(goos, goarch string) string {
	arch := map[string]string{
		"amd64": "x86_64", "arm64": "aarch64", "386": "x86", "ppc64": "powerpc64",
		"ppc64le": "powerpc64", "loong64": "loongarch64", "wasm": "wasm32",
	}[goarch]
	if arch == "" {
		arch = goarch
	}
	os := goos
	if goos == "darwin" {
		os = "macos"
	}
	return arch + "-" + os
}

// Target returns the binary for a Go platform and its wasmCloud target name, or an error wrapping
// ErrNoTarget that lists the targets the archive has.
func (p *ProviderArchive) Target(goos, goarch string) ([]byte, string, error) {
	name := TargetName(goos, goarch)
	if bin, ok := p.Targets[name]; ok {
		return bin, name, nil
	}
	have := slices.Sorted(maps.Keys(p.Targets))
	return nil, name, fmt.Errorf("%w: the archive has no %s binary (it has %s)", ErrNoTarget, name, strings.Join(have, ", "))
}

// WritePAR signs provider claims for the targets (keyed by wasmCloud target name) and writes a
// gzip'd provider archive: claims.jwt, then one {target}.bin per target. The issuer must be an
// account key with its seed, the subject a service key.
func WritePAR(w io.Writer, issuer, subject *KeyPair, meta ProviderMetadata, targets map[string][]byte, opts SignOptions) (*ProviderClaims, error) {
	if issuer == nil || subject == nil {
		return nil, errors.New("write provider archive: issuer and subject keys are required")
	}
	if issuer.Prefix() != PrefixAccount {
		return nil, fmt.Errorf("write provider archive: issuer: %w: %s is a %s key, want an account key (A…)",
			ErrWrongKeyKind, short(issuer.PublicKey()), issuer.Prefix())
	}
	if subject.Prefix() != PrefixService {
		return nil, fmt.Errorf("write provider archive: subject: %w: %s is a %s key, want a service key (V…)",
			ErrWrongKeyKind, short(subject.PublicKey()), subject.Prefix())
	}
	if len(targets) == 0 {
		return nil, errors.New("write provider archive: no target binaries")
	}
	meta.TargetHashes = make(map[string]string, len(targets))
	for name, bin := range targets {
		if name == "" || name == "claims" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
			return nil, fmt.Errorf("write provider archive: invalid target name %q", short(name))
		}
		meta.TargetHashes[name] = sha256Hex(bin)
	}
	claims := &ProviderClaims{
		Claims:   Claims{Subject: subject.PublicKey(), Expires: unixOrZero(opts.Expires), NotBefore: unixOrZero(opts.NotBefore)},
		Provider: meta,
	}
	token, err := SignJWT(claims, issuer)
	if err != nil {
		return nil, fmt.Errorf("write provider archive: %w", err)
	}
	if err := writeParTar(w, token, targets); err != nil {
		return nil, fmt.Errorf("write provider archive: %w", err)
	}
	return claims, nil
}

func writeParTar(w io.Writer, token string, targets map[string][]byte) error {
	zw, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	add := func(name string, mode int64, data []byte) error {
		hdr := &tar.Header{Name: name, Mode: mode, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	if err := add(parClaimsFile, 0o644, []byte(token)); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(targets)) {
		if err := add(name+".bin", 0o755, targets[name]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}
