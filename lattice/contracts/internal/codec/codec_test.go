package codec_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/trellis-lattice/trellis/lattice/contracts/internal/codec"
)

// reference encodes v as the contracts did before this codec: vmihailenco/msgpack with compact
// integers, which writes what rmp-serde writes.
func reference(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	require.NoError(t, enc.Encode(v))
	return buf.Bytes()
}

func TestAppendMatchesReference(t *testing.T) {
	lengths := []int{0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536, 70000}
	for _, n := range lengths {
		s := strings.Repeat("x", n)
		require.Equal(t, reference(t, s), codec.AppendString(nil, s), "str of %d", n)
		require.Len(t, codec.AppendString(nil, s), codec.StrSize(n))
		require.Equal(t, reference(t, []byte(s)), codec.AppendBin(nil, []byte(s)), "bin of %d", n)
		require.Len(t, codec.AppendBin(nil, []byte(s)), codec.BinSize(n))

		arr := make([]bool, n)
		want := reference(t, arr)
		require.Equal(t, want[:len(want)-n], codec.AppendArrayHeader(nil, n), "array of %d", n)
		require.Len(t, codec.AppendArrayHeader(nil, n), codec.HeaderSize(n))
	}
	for _, n := range []int{0, 15, 16, 65535, 65536} {
		var buf bytes.Buffer
		require.NoError(t, msgpack.NewEncoder(&buf).EncodeMapLen(n))
		require.Equal(t, buf.Bytes(), codec.AppendMapHeader(nil, n), "map of %d", n)
		require.Len(t, codec.AppendMapHeader(nil, n), codec.HeaderSize(n))
	}
	ints := []int64{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64,
		-1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, math.MinInt64}
	for _, v := range ints {
		require.Equal(t, reference(t, v), codec.AppendInt(nil, v), "int %d", v)
		require.LessOrEqual(t, len(codec.AppendInt(nil, v)), codec.UintSize)
		if v >= 0 {
			require.Equal(t, reference(t, uint64(v)), codec.AppendUint(nil, uint64(v)), "uint %d", v)
		}
	}
	require.Equal(t, reference(t, uint64(math.MaxUint64)), codec.AppendUint(nil, math.MaxUint64))
	require.Equal(t, reference(t, true), codec.AppendBool(nil, true))
	require.Equal(t, reference(t, false), codec.AppendBool(nil, false))
	require.Equal(t, reference(t, nil), codec.AppendNil(nil))
	require.Equal(t, []byte("ab\xa1c"), codec.AppendString([]byte("ab"), "c"), "appends")
}

func TestCheckLen(t *testing.T) {
	require.NoError(t, codec.CheckLen(0))
	require.NoError(t, codec.CheckLen(math.MaxUint32))
	require.ErrorIs(t, codec.CheckLen(math.MaxUint32+1), codec.ErrTooLong)
	require.ErrorIs(t, codec.CheckLen(3|math.MaxUint32+1), codec.ErrTooLong, "lengths OR'ed together")
}

func TestDecodeAcceptsWhatReferenceAccepts(t *testing.T) {
	strs := map[string][]byte{
		"fixstr": {0xa2, 'h', 'i'},
		"str8":   {0xd9, 2, 'h', 'i'},
		"str16":  {0xda, 0, 2, 'h', 'i'},
		"str32":  {0xdb, 0, 0, 0, 2, 'h', 'i'},
		"bin8":   {0xc4, 2, 'h', 'i'},
		"bin16":  {0xc5, 0, 2, 'h', 'i'},
		"bin32":  {0xc6, 0, 0, 0, 2, 'h', 'i'},
	}
	for name, in := range strs {
		t.Run(name, func(t *testing.T) {
			d := codec.NewDecoder(in)
			s, err := d.String()
			require.NoError(t, err)
			require.Equal(t, "hi", s)
			require.Empty(t, d.Rest())

			d = codec.NewDecoder(in)
			b, err := d.Bytes()
			require.NoError(t, err)
			require.Equal(t, []byte("hi"), b)
			b[0] = 'X'
			require.Equal(t, byte('h'), in[len(in)-2], "Bytes copies")

			var ref string
			require.NoError(t, msgpack.Unmarshal(in, &ref))
			require.Equal(t, ref, s)
		})
	}

	d := codec.NewDecoder([]byte{0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc4, 0x00})
	s, err := d.String()
	require.NoError(t, err)
	require.Empty(t, s)
	b, err := d.Bytes()
	require.NoError(t, err)
	require.Nil(t, b, "nil reads as nil bytes")
	ok, err := d.Bool()
	require.NoError(t, err)
	require.False(t, ok)
	n, err := d.Int(-1, 1)
	require.NoError(t, err)
	require.Zero(t, n)
	l, err := d.Strings()
	require.NoError(t, err)
	require.Nil(t, l)
	b, err = d.Bytes()
	require.NoError(t, err)
	require.NotNil(t, b, "empty bin reads as an empty, non-nil slice")
	require.Empty(t, b)
}

func TestDecodeIntegers(t *testing.T) {
	for _, v := range []int64{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxInt64,
		-1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt64} {
		for _, enc := range [][]byte{codec.AppendInt(nil, v), fixedWidth(v)} {
			d := codec.NewDecoder(enc)
			got, err := d.Int(math.MinInt64, math.MaxInt64)
			require.NoError(t, err, "%d as % x", v, enc)
			require.Equal(t, v, got)
			if v >= 0 {
				d = codec.NewDecoder(enc)
				u, err := d.Uint(math.MaxUint64)
				require.NoError(t, err)
				require.Equal(t, uint64(v), u)
			}
		}
	}
	d := codec.NewDecoder(codec.AppendUint(nil, math.MaxUint64))
	_, err := d.Int(math.MinInt64, math.MaxInt64)
	require.ErrorIs(t, err, codec.ErrRange, "uint64 above MaxInt64")

	for name, tc := range map[string]struct {
		in     []byte
		lo, hi int64
	}{
		"above int32":      {codec.AppendInt(nil, math.MaxInt32+1), math.MinInt32, math.MaxInt32},
		"below int32":      {codec.AppendInt(nil, math.MinInt32-1), math.MinInt32, math.MaxInt32},
		"negative as byte": {[]byte{0xff}, 0, 255},
	} {
		t.Run(name, func(t *testing.T) {
			d := codec.NewDecoder(tc.in)
			_, err := d.Int(tc.lo, tc.hi)
			require.ErrorIs(t, err, codec.ErrRange)
		})
	}
	d = codec.NewDecoder([]byte{0xff})
	_, err = d.Uint(math.MaxUint32)
	require.ErrorIs(t, err, codec.ErrRange)
	d = codec.NewDecoder([]byte{0xcb, 0, 0, 0, 0, 0, 0, 0, 0})
	_, err = d.Uint(math.MaxUint32)
	require.ErrorContains(t, err, "invalid code 0xcb decoding integer")
}

// fixedWidth encodes v in its widest form, which decoders must accept too.
func fixedWidth(v int64) []byte {
	b := []byte{0xd3}
	for i := 7; i >= 0; i-- {
		b = append(b, byte(uint64(v)>>(8*i)))
	}
	return b
}

func TestStruct(t *testing.T) {
	names := []string{"a", "bb"}
	decode := func(in []byte) (map[int]string, error) {
		got := map[int]string{}
		d := codec.NewDecoder(in)
		err := codec.DecodeStruct(&d, names, func(i int, d *codec.Decoder) error {
			s, err := d.String()
			got[i] = s
			return err
		})
		return got, err
	}
	tests := []struct {
		name    string
		in      []byte
		want    map[int]string
		wantErr error
	}{
		{"map", []byte{0x82, 0xa2, 'b', 'b', 0xa1, 'y', 0xa1, 'a', 0xa1, 'x'}, map[int]string{0: "x", 1: "y"}, nil},
		{"unknown field skipped", []byte{0x82, 0xa1, 'z', 0x92, 0x01, 0x81, 0x01, 0x02, 0xa1, 'a', 0xa1, 'x'}, map[int]string{0: "x"}, nil},
		{"array", []byte{0x92, 0xa1, 'x', 0xa1, 'y'}, map[int]string{0: "x", 1: "y"}, nil},
		{"nil", []byte{0xc0}, map[int]string{}, nil},
		{"empty array", []byte{0x90}, map[int]string{}, nil},
		{"short array", []byte{0x91, 0xa1, 'x'}, nil, codec.ErrStructArray},
		{"truncated", []byte{0x82, 0xa1, 'a'}, nil, codec.ErrShort},
		{"map longer than input", []byte{0x8f, 0xa1}, nil, codec.ErrShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decode(tc.in)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, err := decode([]byte{0xa1, 'x'})
	require.EqualError(t, err, "msgpack: invalid code 0xa1 decoding map")
}

func TestSkip(t *testing.T) {
	values := []any{
		nil, true, false, 1, -1, 200, -200, 70000, math.MaxInt64, math.MinInt64, 1.5, float32(2.5),
		"", "short", strings.Repeat("s", 40), strings.Repeat("s", 300), strings.Repeat("s", 70000),
		[]byte{}, []byte("bin"), make([]byte, 300), make([]byte, 70000),
		[]any{}, []any{1, "a", []any{nil}}, make([]int, 20), make([]int, 70000),
		map[string]any{}, map[string]any{"a": map[string]any{"b": []any{1, 2}}},
	}
	for i := range 20 {
		values = append(values, map[int]int{i: i, i + 1: i})
	}
	var all []byte
	for _, v := range values {
		b, err := msgpack.Marshal(v)
		require.NoError(t, err)
		d := codec.NewDecoder(append(b, 0x2a))
		require.NoError(t, d.Skip(), "%T % .20x", v, b)
		require.Equal(t, []byte{0x2a}, d.Rest())
		all = append(all, b...)
	}
	for _, ext := range [][]byte{
		{0xd4, 1, 0}, {0xd5, 1, 0, 0}, {0xd6, 1, 0, 0, 0, 0}, {0xd7, 1, 0, 0, 0, 0, 0, 0, 0, 0},
		append([]byte{0xd8, 1}, make([]byte, 16)...), {0xc7, 2, 1, 0, 0}, {0xc8, 0, 2, 1, 0, 0},
		{0xc9, 0, 0, 0, 2, 1, 0, 0},
	} {
		d := codec.NewDecoder(ext)
		require.NoError(t, d.Skip(), "% x", ext)
		require.Empty(t, d.Rest())
		all = append(all, ext...)
	}
	d := codec.NewDecoder(all)
	for len(d.Rest()) > 0 {
		require.NoError(t, d.Skip())
	}
	for i := range all {
		d := codec.NewDecoder(all[:i])
		for err := error(nil); err == nil && len(d.Rest()) > 0; {
			err = d.Skip()
			if err != nil {
				require.ErrorIs(t, err, codec.ErrShort, "truncated at %d", i)
			}
		}
	}
	d = codec.NewDecoder([]byte{0xc1})
	require.EqualError(t, d.Skip(), "msgpack: invalid code 0xc1 decoding any value")
	deep := append(bytes.Repeat([]byte{0x91}, 100000), 0xc0)
	d = codec.NewDecoder(deep)
	require.NoError(t, d.Skip(), "nesting costs no stack")
}

func TestEqual(t *testing.T) {
	for n := range 80 {
		a := strings.Repeat("ab", 40)[:n]
		require.True(t, codec.Equal([]byte(a), a), "n=%d", n)
		for i := range n {
			b := []byte(a)
			b[i] ^= 1
			require.False(t, codec.Equal(b, a), "n=%d, byte %d differs", n, i)
		}
		require.False(t, codec.Equal([]byte(a+"x"), a))
	}
	require.True(t, codec.HasAt([]byte("xxabc"), 2, "abc"))
	require.False(t, codec.HasAt([]byte("xxabc"), 3, "abc"))
	require.False(t, codec.HasAt([]byte("xxabc"), 6, ""))
	require.False(t, codec.HasAt([]byte("xxabc"), -1, ""))
}

func TestAt(t *testing.T) {
	for _, n := range []int{0, 31, 32, 255, 256, 65535, 65536} {
		b := codec.AppendString([]byte{0}, strings.Repeat("s", n))
		s, e, ok := codec.StrAt(b, 1)
		require.True(t, ok, "str of %d", n)
		require.Equal(t, n, e-s)
		require.Equal(t, len(b), e)
		_, _, ok = codec.StrAt(b[:len(b)-1], 1)
		require.False(t, ok, "truncated str of %d", n)

		b = codec.AppendBin([]byte{0}, make([]byte, n))
		s, e, ok = codec.BinAt(b, 1)
		require.True(t, ok, "bin of %d", n)
		require.Equal(t, n, e-s)
		_, _, ok = codec.BinAt(b[:len(b)-1], 1)
		require.False(t, ok, "truncated bin of %d", n)
	}
	_, _, ok := codec.StrAt([]byte{0xc4, 0}, 0)
	require.False(t, ok, "bin is not str")
	_, _, ok = codec.BinAt([]byte{0xa0}, 0)
	require.False(t, ok, "str is not bin")
	_, _, ok = codec.StrAt(nil, 0)
	require.False(t, ok)
}

func TestWrap(t *testing.T) {
	require.NoError(t, codec.Wrap("x", nil))
	err := codec.Wrap("decode thing", codec.ErrShort)
	require.EqualError(t, err, "decode thing: msgpack: unexpected end of input")
	require.True(t, errors.Is(err, codec.ErrShort))
}

// FuzzDecoder reads arbitrary input with every reader: none may panic or read past the end.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte{0x85, 0xa1, 'a', 0xc4, 0x01, 0x00})
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0xc7, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		readers := []func(d *codec.Decoder) error{
			func(d *codec.Decoder) error { return d.Skip() },
			func(d *codec.Decoder) error { _, err := d.String(); return err },
			func(d *codec.Decoder) error { _, err := d.Bytes(); return err },
			func(d *codec.Decoder) error { _, err := d.Bool(); return err },
			func(d *codec.Decoder) error { _, err := d.Int(math.MinInt64, math.MaxInt64); return err },
			func(d *codec.Decoder) error { _, err := d.Uint(math.MaxUint64); return err },
			func(d *codec.Decoder) error { _, err := d.Strings(); return err },
			func(d *codec.Decoder) error { _, _, err := d.Struct(2); return err },
		}
		for _, read := range readers {
			d := codec.NewDecoder(b)
			for range 8 {
				before := len(d.Rest())
				if read(&d) != nil || len(d.Rest()) == before {
					break
				}
			}
		}
		if len(b) > 0 {
			codec.StrAt(b, int(b[0]))
			codec.BinAt(b, int(b[0]))
		}
		// Skip agrees with the reference decoder on where a value ends.
		d := codec.NewDecoder(b)
		if err := d.Skip(); err == nil {
			ref := msgpack.NewDecoder(bytes.NewReader(b))
			if err := ref.Skip(); err == nil && ref.Buffered().(*bytes.Reader).Len() != len(d.Rest()) {
				t.Fatalf("Skip stops at %d, the reference at %d", len(b)-len(d.Rest()), len(b)-ref.Buffered().(*bytes.Reader).Len())
			}
		}
	})
}
