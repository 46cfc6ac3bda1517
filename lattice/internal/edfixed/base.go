package edfixed

import (
	"sync"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// d2 is 2d, with d = −121665/121666 the curve constant, computed rather than transcribed.
var d2 = func() *field.Element {
	small := func(n uint32) *field.Element {
		var b [32]byte
		b[0], b[1], b[2] = byte(n), byte(n>>8), byte(n>>16)
		e, err := new(field.Element).SetBytes(b[:])
		if err != nil {
			panic(err)
		}
		return e
	}
	var d field.Element
	d.Invert(small(121666))
	d.Multiply(&d, small(121665))
	d.Negate(&d)
	return d.Add(&d, &d)
}()

var (
	baseOnce sync.Once
	base     *table
)

// baseTable returns the multiples of the base point B, built on first use.
func baseTable() *table {
	baseOnce.Do(func() {
		base = new(table)
		base.build(edwards25519.NewGeneratorPoint())
	})
	return base
}
