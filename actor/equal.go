package actor

// equal reports a == b. Up to 64 bytes it compares 8-byte words in straight-line code: Go's ==
// on strings calls runtime.memequal, whose byte loop is slow in wasm when the host can
// interrupt the guest (every iteration of any loop calls out of the compiled code to check).
// lattice/contracts/internal/codec has the same function for the contracts.
func equal(a, b string) bool {
	n := len(a)
	if n != len(b) {
		return false
	}
	if n > 64 {
		return a == b
	}
	if n < 8 {
		for i := range n { // at most 7 iterations, and only for operation names that short
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	return word(a, n-8) == word(b, n-8) &&
		(n <= 8 || word(a, 0) == word(b, 0)) &&
		(n <= 16 || word(a, 8) == word(b, 8)) &&
		(n <= 24 || word(a, 16) == word(b, 16)) &&
		(n <= 32 || word(a, 24) == word(b, 24)) &&
		(n <= 40 || word(a, 32) == word(b, 32)) &&
		(n <= 48 || word(a, 40) == word(b, 40)) &&
		(n <= 56 || word(a, 48) == word(b, 48))
}

func word(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
