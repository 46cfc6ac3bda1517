package keyvalue

import (
	"bytes"

	"github.com/vmihailenco/msgpack/v5"
)

// marshal encodes v as rmp-serde's to_vec_named does: structs as maps with named fields and
// integers in their smallest form.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func unmarshal(b []byte, v any) error {
	return msgpack.Unmarshal(b, v)
}
