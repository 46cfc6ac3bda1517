package codec

// Offset-based readers for fast paths that expect one exact layout and fall back to a Decoder
// for anything else. They never panic: a position past the end reports false.

// HasAt reports whether b holds the bytes of s at offset i.
func HasAt(b []byte, i int, s string) bool {
	return i >= 0 && i <= len(b) && len(s) <= len(b)-i && Equal(b[i:i+len(s)], s)
}

// StrAt reads a str at offset i and returns where its bytes start and end.
func StrAt(b []byte, i int) (start, end int, ok bool) {
	if i < 0 || i >= len(b) {
		return 0, 0, false
	}
	c := b[i]
	switch {
	case c-0xa0 < 0x20:
		start, end = i+1, i+1+int(c-0xa0)
	case c == 0xd9 && i+1 < len(b):
		start = i + 2
		end = start + int(b[i+1])
	default:
		return lenAt(b, i, 0xda, 0xdb)
	}
	return start, end, end <= len(b)
}

// BinAt reads a bin at offset i and returns where its bytes start and end.
func BinAt(b []byte, i int) (start, end int, ok bool) {
	if i < 0 || i+1 >= len(b) {
		return 0, 0, false
	}
	if b[i] == 0xc4 {
		start = i + 2
		end = start + int(b[i+1])
		return start, end, end <= len(b)
	}
	return lenAt(b, i, 0xc5, 0xc6)
}

// lenAt reads a str or bin with a 16-bit (code16) or 32-bit (code32) length at offset i.
func lenAt(b []byte, i int, code16, code32 byte) (start, end int, ok bool) {
	switch {
	case b[i] == code16 && i+2 < len(b):
		start = i + 3
		end = start + (int(b[i+1])<<8 | int(b[i+2]))
	case b[i] == code32 && i+4 < len(b):
		start = i + 5
		end = start + (int(b[i+1])<<24 | int(b[i+2])<<16 | int(b[i+3])<<8 | int(b[i+4]))
	default:
		return 0, 0, false
	}
	return start, end, end <= len(b)
}
