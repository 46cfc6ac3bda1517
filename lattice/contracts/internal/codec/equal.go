package codec

// Equal reports whether k holds the bytes of s. Up to 64 bytes it compares 8-byte words in
// straight-line code: Go's == on strings longer than 6 bytes calls runtime.memequal, whose
// byte loop is slow in wasm when the host can interrupt the guest (each iteration of any loop
// calls out of the compiled code to check). Field names and operation names are short.
func Equal(k []byte, s string) bool {
	n := len(k)
	if n != len(s) {
		return false
	}
	if n > 64 {
		return string(k) == s
	}
	if n < 8 {
		return n < 4 && short(k, s) || n >= 4 && word32(k, 0) == word32s(s, 0) && word32(k, n-4) == word32s(s, n-4)
	}
	// The last word overlaps the others when n is not a multiple of 8.
	return word(k, n-8) == words(s, n-8) &&
		(n <= 8 || word(k, 0) == words(s, 0)) &&
		(n <= 16 || word(k, 8) == words(s, 8)) &&
		(n <= 24 || word(k, 16) == words(s, 16)) &&
		(n <= 32 || word(k, 24) == words(s, 24)) &&
		(n <= 40 || word(k, 32) == words(s, 32)) &&
		(n <= 48 || word(k, 40) == words(s, 40)) &&
		(n <= 56 || word(k, 48) == words(s, 48))
}

// short compares up to 3 bytes.
func short(k []byte, s string) bool {
	switch len(k) {
	case 0:
		return true
	case 1:
		return k[0] == s[0]
	case 2:
		return k[0] == s[0] && k[1] == s[1]
	default:
		return k[0] == s[0] && k[1] == s[1] && k[2] == s[2]
	}
}

func word(b []byte, i int) uint64 {
	b = b[i : i+8]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

func words(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func word32(b []byte, i int) uint32 {
	b = b[i : i+4]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func word32s(s string, i int) uint32 {
	s = s[i : i+4]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}
