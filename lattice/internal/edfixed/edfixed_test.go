package edfixed

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"testing"

	"filippo.io/edwards25519"
)

// order is L, little-endian.
var order = mustHex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// addLE returns a+b over 32 little-endian bytes, dropping the final carry.
func addLE(a, b []byte) []byte {
	out := make([]byte, 32)
	c := 0
	for i := range 32 {
		s := int(a[i]) + int(b[i]) + c
		out[i], c = byte(s), s>>8
	}
	return out
}

// torsion returns the encodings of the 8 points of small order: canonical ones, with the sign bit
// flipped, and the non-canonical y ≥ p ones that still fit in 255 bits.
func torsion(t testing.TB) [][]byte {
	t.Helper()
	t8, err := new(edwards25519.Point).SetBytes(mustHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"))
	if err != nil {
		t.Fatal(err)
	}
	p := mustHex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
	var out [][]byte
	seen := map[string]bool{}
	addEnc := func(b []byte) {
		if !seen[string(b)] {
			seen[string(b)] = true
			out = append(out, b)
		}
	}
	q := edwards25519.NewIdentityPoint()
	for range 8 {
		enc := q.Bytes()
		addEnc(enc)
		flipped := bytes.Clone(enc)
		flipped[31] ^= 0x80
		addEnc(flipped)
		y := bytes.Clone(enc)
		y[31] &= 0x7f
		if sum := addLE(y, p); sum[31]&0x80 == 0 { // y + p still below 2^255
			addEnc(bytes.Clone(sum))
			sum[31] |= 0x80
			addEnc(sum)
		}
		q.Add(q, t8)
	}
	if len(out) != 14 { // 8 canonical, 2 "negative zero" x, 4 with y ≥ p
		t.Fatalf("only %d torsion encodings", len(out))
	}
	return out
}

// check fails the test unless Key.Verify (or New's refusal) agrees with crypto/ed25519.Verify.
func check(t testing.TB, pub, msg, sig []byte) bool {
	t.Helper()
	want := ed25519.Verify(pub, msg, sig)
	k, err := cachedNew(pub)
	if err != nil {
		if want {
			t.Fatalf("New(%x) failed (%v) but ed25519.Verify accepts msg %x sig %x", pub, err, msg, sig)
		}
		return want
	}
	if got := k.Verify(msg, sig); got != want {
		t.Fatalf("Verify(pub %x, msg %x, sig %x) = %v, crypto/ed25519 says %v", pub, msg, sig, got, want)
	}
	return want
}

var testKeys = map[string]*Key{}

// cachedNew is New, once per key for the whole test binary (the tables take ms to build).
func cachedNew(pub []byte) (*Key, error) {
	if k, ok := testKeys[string(pub)]; ok {
		return k, nil
	}
	k, err := New(pub)
	if err == nil {
		testKeys[string(pub)] = k
	}
	return k, err
}

func TestNewRejects(t *testing.T) {
	for _, pub := range [][]byte{nil, make([]byte, 31), make([]byte, 33)} {
		if _, err := New(pub); err == nil {
			t.Errorf("New of %d bytes succeeded", len(pub))
		}
	}
	// y = 2 is not on the curve.
	bad := make([]byte, 32)
	bad[0] = 2
	if _, err := New(bad); err == nil {
		t.Error("New of a non-point succeeded")
	}
}

func TestVerifyMatchesStdlib(t *testing.T) {
	rng := mrand.New(mrand.NewChaCha8([32]byte{1}))
	seed := func() []byte {
		s := make([]byte, ed25519.SeedSize)
		for i := range s {
			s[i] = byte(rng.Uint32())
		}
		return s
	}
	priv := ed25519.NewKeyFromSeed(seed())
	pub := priv.Public().(ed25519.PublicKey)
	other := ed25519.NewKeyFromSeed(seed()).Public().(ed25519.PublicKey)
	k, err := New(pub)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("valid", func(t *testing.T) {
		for _, msg := range [][]byte{nil, {}, []byte("a"), []byte("eyJ0eXAiOiJqd3QiLCJhbGciOiJFZDI1NTE5In0.eyJqdGkiOiJ4In0"), bytes.Repeat([]byte{0xff}, 1000)} {
			sig := ed25519.Sign(priv, msg)
			if !k.Verify(msg, sig) {
				t.Fatalf("valid signature of %q refused", msg)
			}
			if !check(t, pub, msg, sig) {
				t.Fatal("crypto/ed25519 refused its own signature")
			}
		}
	})
	t.Run("every flipped bit", func(t *testing.T) {
		for _, msg := range [][]byte{[]byte("hello"), []byte("header.payload")} {
			sig := ed25519.Sign(priv, msg)
			for bit := range len(sig) * 8 {
				s := bytes.Clone(sig)
				s[bit/8] ^= 1 << (bit % 8)
				if k.Verify(msg, s) != ed25519.Verify(pub, msg, s) {
					t.Fatalf("sig bit %d: results differ", bit)
				}
			}
			for bit := range len(msg) * 8 {
				m := bytes.Clone(msg)
				m[bit/8] ^= 1 << (bit % 8)
				if k.Verify(m, sig) {
					t.Fatalf("msg bit %d flipped still verifies", bit)
				}
			}
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		sig := ed25519.Sign(priv, []byte("m"))
		check(t, other, []byte("m"), sig)
		ko, err := New(other)
		if err != nil {
			t.Fatal(err)
		}
		if ko.Verify([]byte("m"), sig) {
			t.Fatal("another key's table accepted the signature")
		}
	})
	t.Run("lengths", func(t *testing.T) {
		sig := ed25519.Sign(priv, []byte("m"))
		for _, s := range [][]byte{nil, sig[:63], append(bytes.Clone(sig), 0), sig[:32]} {
			if k.Verify([]byte("m"), s) {
				t.Fatalf("signature of %d bytes accepted", len(s))
			}
		}
	})
	t.Run("non-canonical S", func(t *testing.T) {
		msg := []byte("malleable")
		sig := ed25519.Sign(priv, msg)
		plusL := append(bytes.Clone(sig[:32]), addLE(sig[32:], order)...)
		if k.Verify(msg, plusL) || ed25519.Verify(pub, msg, plusL) {
			t.Fatal("S+L accepted")
		}
		for _, high := range []byte{0x20, 0x40, 0x80, 0xe0} {
			s := bytes.Clone(sig)
			s[63] |= high
			check(t, pub, msg, s)
		}
		lS := append(bytes.Clone(sig[:32]), order...) // S = L exactly
		check(t, pub, msg, lS)
	})
	t.Run("R and A of small order", func(t *testing.T) {
		enc := torsion(t)
		valid := 0
		for _, a := range enc {
			for _, r := range enc {
				for _, msg := range [][]byte{nil, []byte("x"), []byte("torsion")} {
					// S = 0: R' = −[k]A is itself of small order.
					sig := append(bytes.Clone(r), make([]byte, 32)...)
					if check(t, a, msg, sig) {
						valid++
					}
				}
			}
		}
		if valid == 0 {
			t.Fatal("no valid small-order signature was generated: the table does not test acceptance")
		}
		t.Logf("%d of the small-order cases verify", valid)
	})
	t.Run("small-order A with R = [S]B − [k]A", func(t *testing.T) {
		// Signatures that verify under a small-order key: try each candidate R = [S]B − T and
		// keep those where T happens to be [k]A for the k they hash to.
		enc := torsion(t)
		valid := 0
		for _, a := range enc {
			A, err := new(edwards25519.Point).SetBytes(a)
			if err != nil {
				continue
			}
			for i := range 4 {
				var sb [64]byte
				sb[0] = byte(i + 1)
				S, _ := edwards25519.NewScalar().SetUniformBytes(sb[:])
				SB := new(edwards25519.Point).ScalarBaseMult(S)
				T := edwards25519.NewIdentityPoint()
				for range 8 {
					R := new(edwards25519.Point).Subtract(SB, T)
					sig := append(R.Bytes(), S.Bytes()...)
					if check(t, a, []byte("m"), sig) {
						valid++
					}
					T.Add(T, A)
				}
			}
		}
		if valid == 0 {
			t.Fatal("no crafted signature verified")
		}
	})
	t.Run("identity R and S = 0", func(t *testing.T) {
		id := edwards25519.NewIdentityPoint().Bytes()
		check(t, pub, []byte("m"), append(bytes.Clone(id), make([]byte, 32)...))
		check(t, id, []byte("m"), append(bytes.Clone(id), make([]byte, 32)...))
	})
	t.Run("non-canonical R of a valid signature's point", func(t *testing.T) {
		// For a key of small order and S = 0, R' is a torsion point, and the torsion points
		// with y < 19 have a second encoding y + p: both encodings are compared.
		for _, a := range torsion(t) {
			for _, r := range torsion(t) {
				check(t, a, []byte("nc"), append(bytes.Clone(r), make([]byte, 32)...))
			}
		}
	})
}

func TestVerifyRandomized(t *testing.T) {
	rng := mrand.New(mrand.NewChaCha8([32]byte{2}))
	n := 300
	if testing.Short() {
		n = 50
	}
	for i := range n {
		var seed [32]byte
		for j := range seed {
			seed[j] = byte(rng.Uint32())
		}
		priv := ed25519.NewKeyFromSeed(seed[:])
		pub := priv.Public().(ed25519.PublicKey)
		k, err := New(pub)
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			msg := make([]byte, rng.IntN(300))
			for j := range msg {
				msg[j] = byte(rng.Uint32())
			}
			sig := ed25519.Sign(priv, msg)
			if !k.Verify(msg, sig) {
				t.Fatalf("case %d: valid signature refused", i)
			}
			bad := bytes.Clone(sig)
			switch rng.IntN(3) {
			case 0:
				bad[rng.IntN(64)] ^= byte(1 + rng.IntN(255))
			case 1:
				copy(bad[32:], addLE(bad[32:], order))
			case 2:
				for j := range 32 {
					bad[j] = byte(rng.Uint32())
				}
			}
			if got, want := k.Verify(msg, bad), ed25519.Verify(pub, msg, bad); got != want {
				t.Fatalf("case %d: mutated signature: %v, crypto/ed25519 %v", i, got, want)
			}
		}
	}
}

// TestTable checks every table entry against a scalar multiplication by edwards25519.
func TestTable(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	k, err := New(priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	A, _ := new(edwards25519.Point).SetBytes(k.pub[:])
	for _, tc := range []struct {
		name string
		tab  *table
		p    *edwards25519.Point
	}{{"B", baseTable(), edwards25519.NewGeneratorPoint()}, {"A", &k.table, A}} {
		step := 1
		if testing.Short() {
			step = 37
		}
		for idx := 0; idx < len(tc.tab); idx += step {
			i, j := idx/perWindow, idx%perWindow+1
			// s = j · 2^(w·i)
			var sb [64]byte
			v := j << ((windowBits * i) % 8)
			byteAt := windowBits * i / 8
			for b := 0; v != 0; b++ {
				sb[byteAt+b] = byte(v)
				v >>= 8
			}
			s, _ := edwards25519.NewScalar().SetUniformBytes(sb[:])
			want := new(edwards25519.Point).ScalarMult(s, tc.p)
			var got extended
			got.identity()
			var c completed
			c.add(&got, tc.tab.at(i, j))
			got.fromCompleted(&c)
			var enc [32]byte
			got.encode(&enc)
			if !bytes.Equal(enc[:], want.Bytes()) {
				t.Fatalf("%s table [%d][%d] is wrong", tc.name, i, j)
			}
		}
	}
}

func TestRecode(t *testing.T) {
	rng := mrand.New(mrand.NewChaCha8([32]byte{3}))
	cases := [][]byte{make([]byte, 32), addLE(order, mustHex("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffef"))}
	for range 1000 {
		var b [64]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		s, _ := edwards25519.NewScalar().SetUniformBytes(b[:])
		cases = append(cases, s.Bytes())
	}
	for _, c := range cases {
		var d [windows]int16
		recode(&d, c)
		// Σ d_i 2^(w·i) must give c back.
		acc := edwards25519.NewScalar()
		for i := windows - 1; i >= 0; i-- {
			for range windowBits {
				acc.Add(acc, acc)
			}
			if d[i] > perWindow || d[i] < -perWindow {
				t.Fatalf("digit %d out of range", d[i])
			}
			var db [32]byte
			v := int(d[i])
			neg := v < 0
			if neg {
				v = -v
			}
			db[0], db[1] = byte(v), byte(v>>8)
			ds, _ := edwards25519.NewScalar().SetCanonicalBytes(db[:])
			if neg {
				acc.Subtract(acc, ds)
			} else {
				acc.Add(acc, ds)
			}
		}
		if want, err := edwards25519.NewScalar().SetCanonicalBytes(c); err == nil && acc.Equal(want) != 1 {
			t.Fatalf("recode of %x does not sum back", c)
		}
	}
}

// FuzzVerify compares Key.Verify with crypto/ed25519.Verify on fuzzed keys, messages and
// signature mutations: mode 0 signs msg with the key of seed and XORs mut into the signature;
// mode 1 takes seed as raw public key bytes (possibly not a point, possibly of small order) and
// mut as the signature.
func FuzzVerify(f *testing.F) {
	f.Add(byte(0), []byte("seed"), []byte("msg"), []byte{})
	f.Add(byte(0), []byte{}, []byte{}, []byte{0, 0, 0, 1})
	f.Add(byte(0), []byte("k"), []byte("m"), append(make([]byte, 63), 0x20))
	f.Add(byte(1), mustHex("0100000000000000000000000000000000000000000000000000000000000000"), []byte("m"),
		mustHex("01000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"))
	f.Add(byte(1), mustHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"), []byte{}, make([]byte, 64))
	f.Add(byte(1), mustHex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"), []byte("x"), make([]byte, 64))
	keys := map[string]*Key{}
	f.Fuzz(func(t *testing.T, mode byte, seed, msg, mut []byte) {
		var pub ed25519.PublicKey
		var sig []byte
		if mode%2 == 0 {
			s := sha512.Sum512(seed)
			priv := ed25519.NewKeyFromSeed(s[:32])
			pub = priv.Public().(ed25519.PublicKey)
			sig = ed25519.Sign(priv, msg)
			for i, b := range mut {
				if i < len(sig) {
					sig[i] ^= b
				}
			}
			if len(mut) > 64 {
				sig = sig[:len(mut)%65]
			}
		} else {
			if len(seed) != 32 {
				return
			}
			pub, sig = seed, mut
		}
		k, ok := keys[string(pub)]
		if !ok {
			var err error
			if k, err = New(pub); err != nil {
				k = nil
			}
			if len(keys) < 64 {
				keys[string(pub)] = k
			}
		}
		want := ed25519.Verify(pub, msg, sig)
		if k == nil {
			if want {
				t.Fatalf("New refused %x but crypto/ed25519 verifies", pub)
			}
			return
		}
		if got := k.Verify(msg, sig); got != want {
			t.Fatalf("Verify = %v, crypto/ed25519 %v (pub %x sig %x msg %x)", got, want, pub, sig, msg)
		}
	})
}

func benchInput(b *testing.B, n int) (ed25519.PublicKey, []byte, []byte, *Key) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	pub := priv.Public().(ed25519.PublicKey)
	msg := bytes.Repeat([]byte("a"), n)
	k, err := New(pub)
	if err != nil {
		b.Fatal(err)
	}
	return pub, msg, ed25519.Sign(priv, msg), k
}

func BenchmarkVerify(b *testing.B) {
	for _, n := range []int{64, 400} {
		pub, msg, sig, k := benchInput(b, n)
		b.Run(fmt.Sprintf("stdlib/%dB", n), func(b *testing.B) {
			for b.Loop() {
				if !ed25519.Verify(pub, msg, sig) {
					b.Fatal("refused")
				}
			}
		})
		b.Run(fmt.Sprintf("table/%dB", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !k.Verify(msg, sig) {
					b.Fatal("refused")
				}
			}
		})
	}
}

func BenchmarkNew(b *testing.B) {
	pub, _, _, _ := benchInput(b, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(pub); err != nil {
			b.Fatal(err)
		}
	}
}
