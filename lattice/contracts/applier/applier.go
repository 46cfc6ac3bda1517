// Package applier holds the wire types of the cosmonic:kubernetes_applier contract: apply or
// delete one Kubernetes object, encoded as wasmbus-rpc (rmp-serde, named fields) encodes them.
//
// Apply's argument is a bare Blob, which upstream passes through serde as a Vec<u8>: a msgpack
// ARRAY of small integers, not bin. EncodeManifest writes that form; DecodeManifest reads it
// and also accepts bin or str, which PROTOCOL.md §9 describes.
//
// It is a leaf: it imports only the standard library and the contracts' hand-written codec
// (lattice/contracts/internal/codec), and compiles for GOOS=wasip1 so actors and providers
// share it. It must not import any other Trellis package.
package applier

import (
	"strconv"

	"github.com/trellis-lattice/trellis/lattice/contracts/internal/codec"
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
	if err := codec.CheckLen(len(r.Error)); err != nil {
		return nil, codec.Wrap("encode operation response", err)
	}
	b := make([]byte, 0, 1+10+1+6+codec.StrSize(len(r.Error)))
	if r.Error == "" {
		b = append(b, 0x81)
		return codec.AppendBool(append(b, "\xa9succeeded"...), r.Succeeded), nil
	}
	b = append(b, 0x82)
	b = codec.AppendBool(append(b, "\xa9succeeded"...), r.Succeeded)
	return codec.AppendString(append(b, "\xa5error"...), r.Error), nil
}

var operationResponseFields = []string{"succeeded", "error"}

// DecodeOperationResponse decodes an OperationResponse.
func DecodeOperationResponse(b []byte) (OperationResponse, error) {
	var r OperationResponse
	d := codec.NewDecoder(b)
	err := codec.DecodeStruct(&d, operationResponseFields, func(i int, d *codec.Decoder) (err error) {
		if i == 0 {
			r.Succeeded, err = d.Bool()
		} else {
			r.Error, err = d.String()
		}
		return err
	})
	if err != nil {
		return OperationResponse{}, codec.Wrap("decode operation response", err)
	}
	return r, nil
}

var deleteRequestFields = []string{"group", "version", "kind", "name", "namespace"}

// Encode encodes r.
func (r DeleteRequest) Encode() ([]byte, error) {
	values := [5]string{r.Group, r.Version, r.Kind, r.Name, r.Namespace}
	fields := len(values)
	if r.Namespace == "" {
		fields--
	}
	n := 1
	for i, v := range values[:fields] {
		if err := codec.CheckLen(len(v)); err != nil {
			return nil, codec.Wrap("encode delete request", err)
		}
		n += codec.StrSize(len(deleteRequestFields[i])) + codec.StrSize(len(v))
	}
	b := codec.AppendMapHeader(make([]byte, 0, n), fields)
	for i, v := range values[:fields] {
		b = codec.AppendString(codec.AppendString(b, deleteRequestFields[i]), v)
	}
	return b, nil
}

// DecodeDeleteRequest decodes a DeleteRequest.
func DecodeDeleteRequest(b []byte) (DeleteRequest, error) {
	var v [5]string
	d := codec.NewDecoder(b)
	err := codec.DecodeStruct(&d, deleteRequestFields, func(i int, d *codec.Decoder) (err error) {
		v[i], err = d.String()
		return err
	})
	if err != nil {
		return DeleteRequest{}, codec.Wrap("decode delete request", err)
	}
	return DeleteRequest{Group: v[0], Version: v[1], Kind: v[2], Name: v[3], Namespace: v[4]}, nil
}

// EncodeManifest encodes Apply's argument the way serde encodes a Vec<u8>: an array with one
// integer per byte.
func EncodeManifest(manifest []byte) ([]byte, error) {
	if err := codec.CheckLen(len(manifest)); err != nil {
		return nil, codec.Wrap("encode manifest", err)
	}
	b := codec.AppendArrayHeader(make([]byte, 0, codec.HeaderSize(len(manifest))+2*len(manifest)), len(manifest))
	for _, c := range manifest {
		b = codec.AppendUint(b, uint64(c))
	}
	return b, nil
}

// DecodeManifest decodes Apply's argument: an array of byte values, or bin, or str.
func DecodeManifest(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, codec.Wrap("decode manifest", codec.ErrShort)
	}
	d := codec.NewDecoder(b)
	if !d.IsArray() {
		out, err := d.Bytes()
		if err != nil {
			return nil, codec.Wrap("decode manifest", err)
		}
		return out, nil
	}
	n, err := d.ArrayLen()
	if err != nil {
		return nil, codec.Wrap("decode manifest", err)
	}
	out := make([]byte, n)
	for i := range out {
		v, err := d.Int(0, 255)
		if err != nil {
			return nil, codec.Wrap("decode manifest byte "+strconv.Itoa(i), err)
		}
		out[i] = byte(v)
	}
	return out, nil
}
