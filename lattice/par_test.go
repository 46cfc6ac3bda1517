package lattice

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type parEntry struct {
	name string
	data []byte
	typ  byte // tar.TypeReg when zero
}

// makeTar builds a tar (gzip'd when gz) by hand, for archives WritePAR would not produce.
func makeTar(t testing.TB, gz bool, entries ...parEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	tw := tar.NewWriter(w)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: typ}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(e.data))
		}
		if typ == tar.TypeSymlink {
			hdr.Linkname = "/etc/passwd"
		}
		require.NoError(t, tw.WriteHeader(hdr))
		if typ == tar.TypeReg {
			_, err := tw.Write(e.data)
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	if zw != nil {
		require.NoError(t, zw.Close())
	}
	return buf.Bytes()
}

type parFixture struct {
	acct, svc *KeyPair
	meta      ProviderMetadata
	targets   map[string][]byte
}

func newParFixture(t testing.TB) parFixture {
	return parFixture{
		acct: claimsTestKey(t, PrefixAccount),
		svc:  claimsTestKey(t, PrefixService),
		meta: ProviderMetadata{Name: "HTTP Server", CapID: "wasmcloud:httpserver", Vendor: "trellis", Rev: 2, Ver: "0.1.0"},
		targets: map[string][]byte{
			"x86_64-linux":  []byte("\x7fELF amd64 binary"),
			"aarch64-linux": []byte("\x7fELF arm64 binary"),
			"aarch64-macos": []byte("\xcf\xfa\xed\xfe mach-o"),
		},
	}
}

func (f parFixture) write(t testing.TB) ([]byte, *ProviderClaims) {
	t.Helper()
	var buf bytes.Buffer
	c, err := WritePAR(&buf, f.acct, f.svc, f.meta, f.targets, SignOptions{})
	require.NoError(t, err)
	return buf.Bytes(), c
}

// token signs provider claims for the fixture's targets.
func (f parFixture) token(t testing.TB, opts SignOptions) string {
	t.Helper()
	var buf bytes.Buffer
	_, err := WritePAR(&buf, f.acct, f.svc, f.meta, f.targets, opts)
	require.NoError(t, err)
	p := readTarEntries(t, buf.Bytes())
	return string(p["claims.jwt"])
}

func readTarEntries(t testing.TB, gz []byte) map[string][]byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	require.NoError(t, err)
	tr := tar.NewReader(zr)
	out := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		out[hdr.Name] = b
	}
}

func TestWriteAndReadPAR(t *testing.T) {
	f := newParFixture(t)
	data, claims := f.write(t)
	require.Equal(t, []byte{0x1f, 0x8b}, data[:2])

	// The layout upstream's provider-archive crate reads: claims.jwt plus {arch}-{os}.bin.
	entries := readTarEntries(t, data)
	require.Len(t, entries, 4)
	for _, name := range []string{"claims.jwt", "x86_64-linux.bin", "aarch64-linux.bin", "aarch64-macos.bin"} {
		require.Contains(t, entries, name)
	}

	p, err := ReadPAR(bytes.NewReader(data))
	require.NoError(t, err)
	require.Equal(t, claims, p.Claims)
	require.Equal(t, f.targets, p.Targets)
	require.Equal(t, string(entries["claims.jwt"]), p.Token)
	require.Equal(t, f.svc.PublicKey(), p.Claims.Subject)
	require.Equal(t, f.acct.PublicKey(), p.Claims.Issuer)
	require.Equal(t, sha256Upper(f.targets["x86_64-linux"]), p.Claims.Provider.TargetHashes["x86_64-linux"])
	require.Equal(t, "wasmcloud:httpserver", p.Claims.StringMap()["contract_id"])

	for _, tc := range []struct{ goos, goarch, target string }{
		{"linux", "amd64", "x86_64-linux"},
		{"linux", "arm64", "aarch64-linux"},
		{"darwin", "arm64", "aarch64-macos"},
	} {
		bin, name, err := p.Target(tc.goos, tc.goarch)
		require.NoError(t, err)
		require.Equal(t, tc.target, name)
		require.Equal(t, f.targets[tc.target], bin)
	}

	// A platform the archive was not built for.
	_, name, err := p.Target("windows", "amd64")
	require.ErrorIs(t, err, ErrNoTarget)
	require.Equal(t, "x86_64-windows", name)
	require.ErrorContains(t, err, "no x86_64-windows binary (it has aarch64-linux, aarch64-macos, x86_64-linux)")
}

func TestReadPARPlainTarAndPaths(t *testing.T) {
	f := newParFixture(t)
	tok := f.token(t, SignOptions{})
	plain := makeTar(t, false,
		parEntry{name: "./", typ: tar.TypeDir},
		parEntry{name: "./claims.jwt", data: []byte(tok + "\n")},
		parEntry{name: "./x86_64-linux.bin", data: f.targets["x86_64-linux"]},
	)
	p, err := ReadPAR(bytes.NewReader(plain))
	require.NoError(t, err)
	require.Equal(t, []byte(f.targets["x86_64-linux"]), p.Targets["x86_64-linux"])
	require.Len(t, p.Targets, 1)
	require.Equal(t, tok, p.Token)
}

func TestReadPARRejects(t *testing.T) {
	f := newParFixture(t)
	tok := f.token(t, SignOptions{})
	bin := f.targets["x86_64-linux"]
	otherSvc := parFixture{acct: f.acct, svc: claimsTestKey(t, PrefixModule), meta: f.meta, targets: f.targets}
	modTok := func() string {
		c := &ProviderClaims{Claims: Claims{Subject: otherSvc.svc.PublicKey()}, Provider: f.meta}
		c.Provider.TargetHashes = map[string]string{"x86_64-linux": sha256Upper(bin)}
		s, err := SignJWT(c, f.acct)
		require.NoError(t, err)
		return s
	}()
	svcIssuerTok := func() string {
		c := &ProviderClaims{Claims: Claims{Subject: f.svc.PublicKey()}, Provider: f.meta}
		s, err := SignJWT(c, f.svc)
		require.NoError(t, err)
		return s
	}()
	expired := f.token(t, SignOptions{Expires: time.Now().Add(-time.Hour)})
	huge := func() []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: "x86_64-linux.bin", Mode: 0o755, Size: maxPARSize + 1, Typeflag: tar.TypeReg}))
		return buf.Bytes() // header only: the size alone must be refused
	}()

	for _, tc := range []struct {
		name string
		data []byte
		want error
		msg  string
	}{
		{"tampered binary", makeTar(t, true, parEntry{name: "claims.jwt", data: []byte(tok)},
			parEntry{name: "x86_64-linux.bin", data: append(bytes.Clone(bin), '!')}), ErrHashMismatch, "target x86_64-linux: claims say"},
		{"binary not in claims", makeTar(t, true, parEntry{name: "claims.jwt", data: []byte(tok)},
			parEntry{name: "riscv64-linux.bin", data: bin}), ErrHashMismatch, "riscv64-linux is not listed"},
		{"no claims", makeTar(t, true, parEntry{name: "x86_64-linux.bin", data: bin}), nil, "no claims.jwt"},
		{"no targets", makeTar(t, true, parEntry{name: "claims.jwt", data: []byte(tok)}), nil, "no target binaries"},
		{"claims not a jwt", makeTar(t, true, parEntry{name: "claims.jwt", data: []byte("hello")},
			parEntry{name: "x86_64-linux.bin", data: bin}), ErrMalformedToken, "claims.jwt"},
		{"expired claims", makeTar(t, true, parEntry{name: "claims.jwt", data: []byte(expired)},
			parEntry{name: "x86_64-linux.bin", data: bin}), ErrExpired, "claims.jwt"},
		{"subject is not a service key", makeTar(t, true, parEntry{name: "claims.jwt", data: []byte(modTok)},
			parEntry{name: "x86_64-linux.bin", data: bin}), ErrWrongKeyKind, "claims.jwt subject"},
		{"issuer is not an account key", makeTar(t, true, parEntry{name: "claims.jwt", data: []byte(svcIssuerTok)},
			parEntry{name: "x86_64-linux.bin", data: bin}), ErrWrongKeyKind, "claims.jwt issuer"},
		{"duplicate target", makeTar(t, true, parEntry{name: "claims.jwt", data: []byte(tok)},
			parEntry{name: "x86_64-linux.bin", data: bin}, parEntry{name: "dir/x86_64-linux.bin", data: bin}), nil, "duplicate x86_64-linux"},
		{"symlink", makeTar(t, true, parEntry{name: "claims.jwt", data: []byte(tok)},
			parEntry{name: "x86_64-linux.bin", typ: tar.TypeSymlink}), nil, "only regular files"},
		{"entry larger than the limit", huge, nil, "larger than 512 MiB"},
		{"not an archive", []byte("definitely not a tar"), nil, "tar"},
		{"broken gzip", []byte{0x1f, 0x8b, 0x08, 0x00}, nil, "gzip"},
		{"empty", nil, nil, "no claims.jwt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadPAR(bytes.NewReader(tc.data))
			require.Error(t, err)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
			}
			require.ErrorContains(t, err, tc.msg)
			require.ErrorContains(t, err, "read provider archive")
		})
	}
}

func TestReadPARDecompressionBomb(t *testing.T) {
	// 8 MiB of zeros gzip to a few KiB; with a 1 MiB budget reading stops early, whether the
	// header announces the size or the data just keeps coming.
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "claims.jwt", Mode: 0o644, Size: 16, Typeflag: tar.TypeReg}))
	_, err := tw.Write(make([]byte, 16))
	require.NoError(t, err)
	zeros := make([]byte, 512<<10)
	for i := range 16 {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("pad%d.bin", i), Mode: 0o644, Size: int64(len(zeros)), Typeflag: tar.TypeReg}))
		_, err = tw.Write(zeros)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	require.Less(t, buf.Len(), 64<<10)

	_, err = readPAR(bytes.NewReader(buf.Bytes()), 1<<20, time.Now(), PAROptions{})
	require.ErrorContains(t, err, "larger than 1 MiB uncompressed")
}

func TestWritePARRejects(t *testing.T) {
	f := newParFixture(t)
	var buf bytes.Buffer
	_, err := WritePAR(&buf, f.svc, f.svc, f.meta, f.targets, SignOptions{})
	require.ErrorIs(t, err, ErrWrongKeyKind)
	require.ErrorContains(t, err, "issuer")
	_, err = WritePAR(&buf, f.acct, f.acct, f.meta, f.targets, SignOptions{})
	require.ErrorIs(t, err, ErrWrongKeyKind)
	require.ErrorContains(t, err, "subject")
	_, err = WritePAR(&buf, f.acct, f.svc, f.meta, nil, SignOptions{})
	require.ErrorContains(t, err, "no target binaries")
	for _, name := range []string{"", "claims", "../x86_64-linux", `a\b`, ".hidden"} {
		_, err = WritePAR(&buf, f.acct, f.svc, f.meta, map[string][]byte{name: {1}}, SignOptions{})
		require.ErrorContains(t, err, "invalid target name", name)
	}
	require.Zero(t, buf.Len(), "nothing is written when the arguments are refused")
}

func TestTargetName(t *testing.T) {
	for _, tc := range []struct{ goos, goarch, want string }{
		{"linux", "amd64", "x86_64-linux"},
		{"linux", "arm64", "aarch64-linux"},
		{"darwin", "amd64", "x86_64-macos"},
		{"darwin", "arm64", "aarch64-macos"},
		{"windows", "amd64", "x86_64-windows"},
		{"linux", "riscv64", "riscv64-linux"},
		{"freebsd", "386", "x86-freebsd"},
	} {
		require.Equal(t, tc.want, TargetName(tc.goos, tc.goarch))
	}
}

func TestFileStem(t *testing.T) {
	for in, want := range map[string]string{
		"claims.jwt": "claims", "./x86_64-linux.bin": "x86_64-linux", "a/b/aarch64-macos.bin": "aarch64-macos",
		"x86_64-linux.musl.bin": "x86_64-linux.musl", ".hidden": ".hidden", "noext": "noext", "./": "", "": "",
	} {
		require.Equal(t, want, fileStem(in), in)
	}
}

func FuzzReadPAR(f *testing.F) {
	fx := newParFixture(f)
	fx.targets = map[string][]byte{"x86_64-linux": []byte("bin")}
	good, _ := fx.write(f)
	tok := fx.token(f, SignOptions{})
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(makeTar(f, false, parEntry{name: "claims.jwt", data: []byte(tok)}, parEntry{name: "x86_64-linux.bin", data: []byte("bin")}))
	f.Add(makeTar(f, false, parEntry{name: "claims.jwt", data: []byte("x")}))
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ReadPAR(bytes.NewReader(data))
		if err != nil {
			return
		}
		require.NotEmpty(t, p.Targets)
		for name, bin := range p.Targets {
			require.True(t, strings.EqualFold(p.Claims.Provider.TargetHashes[name], sha256Upper(bin)))
		}
	})
}

func TestReadPARIssuers(t *testing.T) {
	f := newParFixture(t)
	data, _ := f.write(t)
	other := claimsTestKey(t, PrefixAccount).PublicKey()

	p, err := ReadPARWith(bytes.NewReader(data), PAROptions{Issuers: []string{other, f.acct.PublicKey()}})
	require.NoError(t, err)
	require.Equal(t, f.acct.PublicKey(), p.Claims.Issuer)

	_, err = ReadPARWith(bytes.NewReader(data), PAROptions{Issuers: []string{other}})
	require.ErrorIs(t, err, ErrUntrustedIssuer)
	require.ErrorContains(t, err, "signed by account "+f.acct.PublicKey())

	// The claims are judged as soon as they are read: what follows them in an archive signed by
	// another account is not read at all (here, a target entry whose bytes are missing).
	token := f.token(t, SignOptions{})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "claims.jwt", Mode: 0o644, Size: int64(len(token)), Typeflag: tar.TypeReg}))
	_, err = tw.Write([]byte(token))
	require.NoError(t, err)
	require.NoError(t, tw.Flush())
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "x86_64-linux.bin", Mode: 0o755, Size: 100 << 20, Typeflag: tar.TypeReg}))
	truncated := buf.Bytes() // the header promises 100 MiB that never come
	_, err = ReadPARWith(bytes.NewReader(truncated), PAROptions{Issuers: []string{other}})
	require.ErrorIs(t, err, ErrUntrustedIssuer)
	_, err = ReadPARWith(bytes.NewReader(truncated), PAROptions{Issuers: []string{f.acct.PublicKey()}})
	require.ErrorContains(t, err, "x86_64-linux.bin") // a trusted archive is read on, and this one is cut short
}
