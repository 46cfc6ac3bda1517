// Package edfixed verifies ed25519 signatures made by one fixed public key, fast, with tables
// precomputed for that key.
//
// It owns the verification equation and nothing else: no key parsing beyond the 32 raw bytes, no
// signing, no caching of keys (the caller decides which keys deserve a table). It imports the
// standard library and filippo.io/edwards25519 only, nothing of the project.
//
// # Results
//
// (*Key).Verify returns what crypto/ed25519.Verify returns for the same public key, message and
// signature, on every input: a signature must be 64 bytes; S must be canonical (S < L); A is
// decoded the way crypto/ed25519 decodes it (non-canonical y and small-order points accepted);
// k = SHA-512(R ‖ A ‖ M) mod L over the raw bytes; R' = [S]B − [k]A must encode to exactly the
// 32 bytes of R in the signature (so a non-canonical R never verifies). The tests hold it to that
// against crypto/ed25519 (tables of edge cases, a randomized differential test and FuzzVerify).
//
// # Construction
//
// Both scalars are recoded in signed radix 2^w (w = windowBits): 256/w digits d_i with
// |d_i| ≤ 2^(w-1) and s = Σ d_i·2^(w·i). For each window i a table holds the affine multiples
// j·2^(w·i)·P, j = 1…2^(w-1), in the "affine Niels" form (y+x, y−x, 2d·x·y); [S]B − [k]A is then
// one mixed addition per non-zero digit of S (table of B) and of k (table of A, added with the
// subtraction formula), no doublings, and one inversion to encode the result. The table of B is
// built once per process, on first use; the table of A by New (a few ms: 4096 point additions
// and one batched inversion). Verification runs in variable time, which is fine: everything a
// verifier handles is public.
//
// # Memory
//
// A table is windows × 2^(w-1) entries of 120 bytes: with w = 8, 32 × 128 × 120 B = 480 KiB per
// Key, plus one table of the same size for B shared by all keys.
package edfixed

import (
	"crypto/ed25519"
	"crypto/sha512"
	"errors"
	"fmt"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

const (
	// windowBits is w, the width of a signed digit. 8 was the fastest measured (see the
	// benchmarks); smaller tables trade memory for more additions.
	windowBits = 8
	// windows is ⌈254/w⌉: enough digits for any scalar below 2^253 with the final carry absorbed.
	windows = (254 + windowBits - 1) / windowBits
	// perWindow is how many multiples each window holds: 1…2^(w-1).
	perWindow = 1 << (windowBits - 1)
)

// TableBytes is the memory one Key's table takes (the table of B is the same size, shared).
const TableBytes = windows * perWindow * (3 * 5 * 8)

// Key verifies signatures of one public key. It is immutable and safe for concurrent use.
type Key struct {
	pub   [32]byte
	table table // multiples of A
}

// New precomputes the tables for pub. It fails where crypto/ed25519.Verify would panic (a key
// that is not 32 bytes) or always return false (bytes that are not a point).
func New(pub ed25519.PublicKey) (*Key, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("edfixed: public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	A, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return nil, errors.New("edfixed: public key is not a valid point")
	}
	k := &Key{}
	copy(k.pub[:], pub)
	k.table.build(A)
	baseTable() // build the shared table now rather than on the first Verify
	return k, nil
}

// PublicKey returns a copy of the key's 32 bytes.
func (k *Key) PublicKey() ed25519.PublicKey {
	out := make(ed25519.PublicKey, 32)
	copy(out, k.pub[:])
	return out
}

// Verify reports whether sig is a valid signature of msg by the key, with exactly the result of
// crypto/ed25519.Verify.
func (k *Key) Verify(msg, sig []byte) bool {
	if len(sig) != ed25519.SignatureSize || sig[63]&224 != 0 {
		return false
	}
	var S edwards25519.Scalar
	if _, err := S.SetCanonicalBytes(sig[32:]); err != nil {
		return false
	}
	h := sha512.New()
	h.Write(sig[:32])
	h.Write(k.pub[:])
	h.Write(msg)
	var digest [sha512.Size]byte
	var kS edwards25519.Scalar
	if _, err := kS.SetUniformBytes(h.Sum(digest[:0])); err != nil {
		return false // unreachable: the digest is 64 bytes
	}
	var sd, kd [windows]int16
	recode(&sd, S.Bytes())
	recode(&kd, kS.Bytes())

	bt := baseTable()
	var acc extended
	acc.identity()
	var c completed
	for i := range windows {
		if d := sd[i]; d > 0 {
			c.add(&acc, bt.at(i, int(d)))
			acc.fromCompleted(&c)
		} else if d < 0 {
			c.sub(&acc, bt.at(i, int(-d)))
			acc.fromCompleted(&c)
		}
		// − [k]A: a positive digit of k subtracts a multiple of A.
		if d := kd[i]; d > 0 {
			c.sub(&acc, k.table.at(i, int(d)))
			acc.fromCompleted(&c)
		} else if d < 0 {
			c.add(&acc, k.table.at(i, int(-d)))
			acc.fromCompleted(&c)
		}
	}
	var enc [32]byte
	acc.encode(&enc)
	return [32]byte(sig[:32]) == enc
}

// recode writes the signed radix-2^w digits of the little-endian scalar s (< 2^253).
func recode(out *[windows]int16, s []byte) {
	var carry int
	for i := range windows {
		bit := i * windowBits
		// Read w bits starting at bit (they span at most three bytes for w ≤ 9).
		var v int
		for j := 0; j < 3 && bit/8+j < 32; j++ {
			v |= int(s[bit/8+j]) << (8 * j)
		}
		v = (v >> (bit % 8)) & (1<<windowBits - 1)
		v += carry
		carry = 0
		if v > perWindow || (v == perWindow && i < windows-1) {
			// Keep |d| ≤ 2^(w-1): a digit of 2^(w-1) stays positive only in the top window,
			// where no carry can go anywhere (s < 2^253 keeps it far below).
			v -= 1 << windowBits
			carry = 1
		}
		out[i] = int16(v)
	}
}

// niels is an affine point (x, y) as (y+x, y−x, 2d·x·y).
type niels struct {
	yPlusX, yMinusX, t2d field.Element
}

// table holds j·2^(w·i)·P for i < windows and j = 1…perWindow, at [i*perWindow + j-1].
type table [windows * perWindow]niels

func (t *table) at(i, j int) *niels { return &t[i*perWindow+j-1] }

// build fills t with the multiples of p: point additions in extended coordinates, then one
// batched inversion to make them affine.
func (t *table) build(p *edwards25519.Point) {
	pts := make([]edwards25519.Point, len(t))
	var base edwards25519.Point
	base.Set(p)
	for i := range windows {
		row := pts[i*perWindow : (i+1)*perWindow]
		row[0].Set(&base)
		for j := 1; j < perWindow; j++ {
			row[j].Add(&row[j-1], &base)
		}
		// Next window's base: 2^w · base = 2 · (2^(w-1) · base).
		base.Add(&row[perWindow-1], &row[perWindow-1])
	}
	xs := make([]field.Element, len(pts))
	ys := make([]field.Element, len(pts))
	zs := make([]field.Element, len(pts))
	for i := range pts {
		X, Y, Z, _ := pts[i].ExtendedCoordinates()
		xs[i].Set(X)
		ys[i].Set(Y)
		zs[i].Set(Z)
	}
	batchInvert(zs)
	for i := range t {
		var x, y, xy field.Element
		x.Multiply(&xs[i], &zs[i])
		y.Multiply(&ys[i], &zs[i])
		t[i].yPlusX.Add(&y, &x)
		t[i].yMinusX.Subtract(&y, &x)
		xy.Multiply(&x, &y)
		t[i].t2d.Multiply(&xy, d2)
	}
}

// batchInvert replaces every element by its inverse with one inversion (Montgomery's trick).
// No element may be zero (a Z coordinate never is).
func batchInvert(v []field.Element) {
	prefix := make([]field.Element, len(v))
	var acc field.Element
	acc.One()
	for i := range v {
		prefix[i].Set(&acc)
		acc.Multiply(&acc, &v[i])
	}
	acc.Invert(&acc)
	for i := len(v) - 1; i >= 0; i-- {
		var inv field.Element
		inv.Multiply(&acc, &prefix[i])
		acc.Multiply(&acc, &v[i])
		v[i].Set(&inv)
	}
}

// extended is a point in extended coordinates: x = X/Z, y = Y/Z, x·y = T/Z.
type extended struct {
	X, Y, Z, T field.Element
}

// completed is a point as ((X:Z), (Y:T)): x = X/Z, y = Y/T.
type completed struct {
	X, Y, Z, T field.Element
}

func (p *extended) identity() {
	p.X.Zero()
	p.Y.One()
	p.Z.One()
	p.T.Zero()
}

// add sets c = p + q (mixed addition, 3 multiplications; complete for every input).
func (c *completed) add(p *extended, q *niels) {
	var ypx, ymx, pp, mm, tt2d, z2 field.Element
	ypx.Add(&p.Y, &p.X)
	ymx.Subtract(&p.Y, &p.X)
	pp.Multiply(&ypx, &q.yPlusX)
	mm.Multiply(&ymx, &q.yMinusX)
	tt2d.Multiply(&p.T, &q.t2d)
	z2.Add(&p.Z, &p.Z)
	c.X.Subtract(&pp, &mm)
	c.Y.Add(&pp, &mm)
	c.Z.Add(&z2, &tt2d)
	c.T.Subtract(&z2, &tt2d)
}

// sub sets c = p − q: the addition of −q = (y−x, y+x, −2d·x·y).
func (c *completed) sub(p *extended, q *niels) {
	var ypx, ymx, pp, mm, tt2d, z2 field.Element
	ypx.Add(&p.Y, &p.X)
	ymx.Subtract(&p.Y, &p.X)
	pp.Multiply(&ypx, &q.yMinusX)
	mm.Multiply(&ymx, &q.yPlusX)
	tt2d.Multiply(&p.T, &q.t2d)
	z2.Add(&p.Z, &p.Z)
	c.X.Subtract(&pp, &mm)
	c.Y.Add(&pp, &mm)
	c.Z.Subtract(&z2, &tt2d)
	c.T.Add(&z2, &tt2d)
}

func (p *extended) fromCompleted(c *completed) {
	p.X.Multiply(&c.X, &c.T)
	p.Y.Multiply(&c.Y, &c.Z)
	p.Z.Multiply(&c.Z, &c.T)
	p.T.Multiply(&c.X, &c.Y)
}

// encode writes the canonical encoding of p: y with the sign of x in the top bit, the bytes
// edwards25519.Point.Bytes returns.
func (p *extended) encode(out *[32]byte) {
	var zInv, x, y field.Element
	zInv.Invert(&p.Z)
	x.Multiply(&p.X, &zInv)
	y.Multiply(&p.Y, &zInv)
	copy(out[:], y.Bytes())
	out[31] |= byte(x.IsNegative() << 7)
}
