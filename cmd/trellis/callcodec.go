package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// `ctl call` turns a JSON payload into msgpack the way wash 0.x did (serde_json::Value through
// rmp-serde): objects become maps with their keys sorted, arrays arrays, strings str, true/false
// bool, null nil, integers the smallest int encoding, other numbers float64. There is no bin in
// JSON: a field that the actor reads as bytes (such as an HTTP body) is sent as a string, which
// both upstream decoders (serde_bytes) and Trellis's Go codec accept as bytes.
//
// The response is decoded generically, keeping the order of map fields. bin values that are
// valid UTF-8 are shown as strings (so an HTTP body reads as text), other bin values as arrays of
// byte values.

const maxNesting = 512

var errTooDeep = fmt.Errorf("nested deeper than %d levels", maxNesting)

// jsonToMsgpack converts one JSON document to msgpack.
func jsonToMsgpack(doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("payload is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("payload is not valid JSON: more than one value")
	}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	if err := encodeJSONValue(enc, v, 0); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	return buf.Bytes(), nil
}

func encodeJSONValue(enc *msgpack.Encoder, v any, depth int) error {
	if depth > maxNesting {
		return errTooDeep
	}
	switch x := v.(type) {
	case nil:
		return enc.EncodeNil()
	case bool:
		return enc.EncodeBool(x)
	case string:
		return enc.EncodeString(x)
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return enc.EncodeInt(i) // EncodeInt picks the smallest encoding
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return enc.EncodeUint(u)
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return fmt.Errorf("number %s: %w", x, err)
		}
		return enc.EncodeFloat64(f)
	case []any:
		if err := enc.EncodeArrayLen(len(x)); err != nil {
			return err
		}
		for _, e := range x {
			if err := encodeJSONValue(enc, e, depth+1); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if err := enc.EncodeMapLen(len(keys)); err != nil {
			return err
		}
		for _, k := range keys {
			if err := enc.EncodeString(k); err != nil {
				return err
			}
			if err := encodeJSONValue(enc, x[k], depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unexpected JSON value of type %T", v)
}

// orderedMap is a decoded msgpack map that keeps its field order when written as JSON.
type orderedMap []mapEntry

type mapEntry struct {
	Key   string
	Value any
}

func (m orderedMap) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, e := range m {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := marshalCompact(e.Key)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		v, err := marshalCompact(e.Value)
		if err != nil {
			return nil, err
		}
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// marshalCompact is json.Marshal without HTML escaping and without the trailing newline.
func marshalCompact(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// msgpackToJSON decodes one msgpack value into JSON-ready values (nil, bool, int64, uint64,
// float64, string, []any, orderedMap). Trailing bytes are an error.
func msgpackToJSON(data []byte) (any, error) {
	r := bytes.NewReader(data)
	dec := msgpack.NewDecoder(r)
	v, err := decodeMsgpackValue(dec, r, 0)
	if err != nil {
		return nil, fmt.Errorf("not msgpack: %w", err)
	}
	if r.Len() > 0 {
		return nil, fmt.Errorf("not msgpack: %d bytes left after the first value", r.Len())
	}
	return v, nil
}

// decodeMsgpackValue decodes one value; r is the decoder's input, used to refuse lengths longer
// than what is left (the codec would allocate whatever a 5-byte header claims).
func decodeMsgpackValue(dec *msgpack.Decoder, r *bytes.Reader, depth int) (any, error) {
	if depth > maxNesting {
		return nil, errTooDeep
	}
	c, err := dec.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case c == msgpcode.Nil:
		return nil, dec.DecodeNil()
	case c == msgpcode.True || c == msgpcode.False:
		return dec.DecodeBool()
	case msgpcode.IsFixedNum(c) || c == msgpcode.Int8 || c == msgpcode.Int16 || c == msgpcode.Int32 || c == msgpcode.Int64:
		return dec.DecodeInt64()
	case c == msgpcode.Uint8 || c == msgpcode.Uint16 || c == msgpcode.Uint32 || c == msgpcode.Uint64:
		return dec.DecodeUint64()
	case c == msgpcode.Float:
		f, err := dec.DecodeFloat32()
		return jsonFloat(float64(f)), err
	case c == msgpcode.Double:
		f, err := dec.DecodeFloat64()
		return jsonFloat(f), err
	case msgpcode.IsString(c) || msgpcode.IsBin(c):
		n, err := dec.DecodeBytesLen()
		if err != nil {
			return nil, err
		}
		b, err := readRaw(dec, r, n)
		if err != nil {
			return nil, err
		}
		if msgpcode.IsString(c) {
			return string(b), nil
		}
		return binValue(b), nil
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := dec.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		out := make([]any, 0, min(n, 64))
		for range n {
			v, err := decodeMsgpackValue(dec, r, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := dec.DecodeMapLen()
		if err != nil {
			return nil, err
		}
		out := make(orderedMap, 0, min(n, 64))
		for range n {
			k, err := decodeMsgpackValue(dec, r, depth+1)
			if err != nil {
				return nil, err
			}
			v, err := decodeMsgpackValue(dec, r, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, mapEntry{Key: keyString(k), Value: v})
		}
		return out, nil
	case msgpcode.IsExt(c):
		typ, n, err := dec.DecodeExtHeader()
		if err != nil {
			return nil, err
		}
		data, err := readRaw(dec, r, n)
		if err != nil {
			return nil, err
		}
		return orderedMap{{"type", int64(typ)}, {"data", byteArray(data)}}, nil
	}
	return nil, fmt.Errorf("unknown msgpack code 0x%02x", c)
}

// readRaw reads n raw bytes, refusing a length longer than the input left.
func readRaw(dec *msgpack.Decoder, r *bytes.Reader, n int) ([]byte, error) {
	if n < 0 || n > r.Len() {
		return nil, fmt.Errorf("length %d exceeds the %d bytes left", n, r.Len())
	}
	out := make([]byte, n)
	if err := dec.ReadFull(out); err != nil {
		return nil, err
	}
	return out, nil
}

// binValue renders bytes as a string when they are valid UTF-8, else as an array of byte values.
func binValue(b []byte) any {
	if utf8.Valid(b) {
		return string(b)
	}
	return byteArray(b)
}

func byteArray(b []byte) []any {
	out := make([]any, len(b))
	for i, x := range b {
		out[i] = int64(x)
	}
	return out
}

// jsonFloat keeps NaN and infinities printable (JSON has no such numbers).
func jsonFloat(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return f
}

// keyString renders a decoded map key as a JSON object key.
func keyString(k any) string {
	switch x := k.(type) {
	case string:
		return x
	case nil:
		return "null"
	}
	b, err := marshalCompact(k)
	if err != nil {
		return fmt.Sprint(k)
	}
	return string(b)
}

// formatCallText renders a decoded response for people: a map as one "field: value" line per
// field, strings (and UTF-8 bin) verbatim, anything else as compact JSON.
func formatCallText(v any) (string, error) {
	m, ok := v.(orderedMap)
	if !ok {
		return formatScalar(v)
	}
	if len(m) == 0 {
		return "{}", nil
	}
	var b strings.Builder
	for i, e := range m {
		s, err := formatScalar(e.Value)
		if err != nil {
			return "", err
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Key + ": " + s)
	}
	return b.String(), nil
}

func formatScalar(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	b, err := marshalCompact(v)
	return string(b), err
}
