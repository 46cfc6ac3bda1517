package lattice

import (
	"encoding/binary"
	"fmt"
)

// maxMsgpackDepth bounds the nesting of msgpack input accepted from the lattice.
const maxMsgpackDepth = 64

// checkMsgpack walks one msgpack value and refuses input whose declared lengths exceed the bytes
// that are there, nests too deeply, or has trailing bytes. A decoder would otherwise allocate what
// a 9-byte message claims (gigabytes) before finding out it is not there.
func checkMsgpack(data []byte) error {
	n, err := skipMsgpack(data, 0, 0)
	if err != nil {
		return err
	}
	if n != len(data) {
		return fmt.Errorf("%d trailing bytes after the value", len(data)-n)
	}
	return nil
}

// skipMsgpack returns the offset just past the value starting at off.
func skipMsgpack(b []byte, off, depth int) (int, error) {
	if depth > maxMsgpackDepth {
		return 0, fmt.Errorf("nested deeper than %d", maxMsgpackDepth)
	}
	if off >= len(b) {
		return 0, fmt.Errorf("truncated at byte %d", off)
	}
	c := b[off]
	off++
	// need returns an offset n bytes on, or an error when they are not there.
	need := func(n uint64) (int, error) {
		if n > uint64(len(b)-off) {
			return 0, fmt.Errorf("declares %d bytes at byte %d, but only %d remain", n, off, len(b)-off)
		}
		return off + int(n), nil
	}
	uint := func(size int) (uint64, error) {
		end, err := need(uint64(size))
		if err != nil {
			return 0, err
		}
		var v uint64
		switch size {
		case 1:
			v = uint64(b[off])
		case 2:
			v = uint64(binary.BigEndian.Uint16(b[off:]))
		case 4:
			v = uint64(binary.BigEndian.Uint32(b[off:]))
		}
		off = end
		return v, nil
	}
	items := func(count uint64, perItem int) (int, error) {
		// Every element takes at least one byte: refuse counts the input cannot hold.
		if count*uint64(perItem) > uint64(len(b)-off) {
			return 0, fmt.Errorf("declares %d elements at byte %d, but only %d bytes remain", count, off, len(b)-off)
		}
		var err error
		for range count * uint64(perItem) {
			if off, err = skipMsgpack(b, off, depth+1); err != nil {
				return 0, err
			}
		}
		return off, nil
	}
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		return off, nil
	case c >= 0x80 && c <= 0x8f:
		return items(uint64(c&0x0f), 2)
	case c >= 0x90 && c <= 0x9f:
		return items(uint64(c&0x0f), 1)
	case c >= 0xa0 && c <= 0xbf:
		return need(uint64(c & 0x1f))
	}
	switch c {
	case 0xcc, 0xd0:
		return need(1)
	case 0xcd, 0xd1:
		return need(2)
	case 0xca, 0xce, 0xd2:
		return need(4)
	case 0xcb, 0xcf, 0xd3:
		return need(8)
	case 0xd4:
		return need(2)
	case 0xd5:
		return need(3)
	case 0xd6:
		return need(5)
	case 0xd7:
		return need(9)
	case 0xd8:
		return need(17)
	case 0xc4, 0xd9, 0xc5, 0xda, 0xc6, 0xdb: // bin and str
		size := map[byte]int{0xc4: 1, 0xd9: 1, 0xc5: 2, 0xda: 2, 0xc6: 4, 0xdb: 4}[c]
		n, err := uint(size)
		if err != nil {
			return 0, err
		}
		return need(n)
	case 0xc7, 0xc8, 0xc9: // ext
		size := map[byte]int{0xc7: 1, 0xc8: 2, 0xc9: 4}[c]
		n, err := uint(size)
		if err != nil {
			return 0, err
		}
		return need(n + 1)
	case 0xdc, 0xdd: // array
		n, err := uint(map[byte]int{0xdc: 2, 0xdd: 4}[c])
		if err != nil {
			return 0, err
		}
		return items(n, 1)
	case 0xde, 0xdf: // map
		n, err := uint(map[byte]int{0xde: 2, 0xdf: 4}[c])
		if err != nil {
			return 0, err
		}
		return items(n, 2)
	}
	return 0, fmt.Errorf("unknown type byte 0x%02x at byte %d", c, off-1)
}
