// Package applier holds the wire types of the cosmonic:kubernetes_applier contract: apply or
// delete one Kubernetes object, encoded as wasmbus-rpc (rmp-serde, named fields) encodes them.
//
// Apply's argument is a bare Blob, which upstream passes through serde as a Vec<u8>: a msgpack
// ARRAY of small integers, not bin. EncodeManifest writes that form; DecodeManifest reads it
// and also accepts bin or str, which PROTOCOL.md §9 describes.
//
// It is a leaf: it imports only the standard library and the msgpack codec, and compiles for
// GOOS=wasip1 so actors and providers share it. It must not import any other Trellis package.
package applier

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// ContractID is the capability contract id.
const ContractID = "cosmonic:kubernetes_applier"

// Operations.
const (
	OpApply  = "KubernetesApplier.Apply"  // manifest (see EncodeManifest) → OperationResponse
	OpDelete = "KubernetesApplier.Delete" // DeleteRequest → OperationResponse
)

// OperationResponse says whether an Apply or Delete worked; Error is optional upstream and
// left out of the encoding when empty.
type OperationResponse struct {
	Succeeded bool   `msgpack:"succeeded"`
	Error     string `msgpack:"error,omitempty"`
}

// DeleteRequest names the object to delete. Group is "" for the core group; Namespace is
// optional upstream (the provider's default) and left out when empty.
type DeleteRequest struct {
	Group     string `msgpack:"group"`
	Version   string `msgpack:"version"`
	Kind      string `msgpack:"kind"`
	Name      string `msgpack:"name"`
	Namespace string `msgpack:"namespace,omitempty"`
}

// Encode encodes r.
func (r OperationResponse) Encode() ([]byte, error) {
	b, err := marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode operation response: %w", err)
	}
	return b, nil
}

// DecodeOperationResponse decodes an OperationResponse.
func DecodeOperationResponse(b []byte) (OperationResponse, error) {
	var r OperationResponse
	if err := unmarshal(b, &r); err != nil {
		return OperationResponse{}, fmt.Errorf("decode operation response: %w", err)
	}
	return r, nil
}

// Encode encodes r.
func (r DeleteRequest) Encode() ([]byte, error) {
	b, err := marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode delete request: %w", err)
	}
	return b, nil
}

// DecodeDeleteRequest decodes a DeleteRequest.
func DecodeDeleteRequest(b []byte) (DeleteRequest, error) {
	var r DeleteRequest
	if err := unmarshal(b, &r); err != nil {
		return DeleteRequest{}, fmt.Errorf("decode delete request: %w", err)
	}
	return r, nil
}

// EncodeManifest encodes Apply's argument the way serde encodes a Vec<u8>: an array with one
// integer per byte.
func EncodeManifest(manifest []byte) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	if err := enc.EncodeArrayLen(len(manifest)); err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	for _, c := range manifest {
		if err := enc.EncodeUint(uint64(c)); err != nil {
			return nil, fmt.Errorf("encode manifest: %w", err)
		}
	}
	return buf.Bytes(), nil
}

// DecodeManifest decodes Apply's argument: an array of byte values, or bin, or str.
func DecodeManifest(b []byte) ([]byte, error) {
	dec := msgpack.NewDecoder(bytes.NewReader(b))
	code, err := dec.PeekCode()
	if err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if !msgpcode.IsFixedArray(code) && code != msgpcode.Array16 && code != msgpcode.Array32 {
		out, err := dec.DecodeBytes()
		if err != nil {
			return nil, fmt.Errorf("decode manifest: %w", err)
		}
		return out, nil
	}
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if n > len(b) { // every element takes at least one byte
		return nil, errors.New("decode manifest: array longer than its input")
	}
	out := make([]byte, n)
	for i := range out {
		v, err := dec.DecodeInt64()
		if err != nil {
			return nil, fmt.Errorf("decode manifest byte %d: %w", i, err)
		}
		if v < 0 || v > 255 {
			return nil, fmt.Errorf("decode manifest byte %d: %d is not a byte", i, v)
		}
		out[i] = byte(v)
	}
	return out, nil
}
