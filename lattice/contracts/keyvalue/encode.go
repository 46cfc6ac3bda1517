package keyvalue

import "fmt"

// Marshal encodes a bare argument or result (string, bool, int32, uint32, []string) as the
// msgpack scalar or array itself. A nil []string is sent as an empty array.
func Marshal(v any) ([]byte, error) {
	if l, ok := v.([]string); ok && l == nil {
		v = []string{}
	}
	b, err := marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode keyvalue %T: %w", v, err)
	}
	return b, nil
}

// Unmarshal decodes a bare argument or result into v (a *string, *bool, *int32, *uint32 or
// *[]string).
func Unmarshal(b []byte, v any) error {
	if err := unmarshal(b, v); err != nil {
		return fmt.Errorf("decode keyvalue %T: %w", v, err)
	}
	return nil
}

// decode is the shared body of the DecodeX functions.
func decode[T any](b []byte, what string) (T, error) {
	var v T
	if err := unmarshal(b, &v); err != nil {
		var zero T
		return zero, fmt.Errorf("decode %s: %w", what, err)
	}
	return v, nil
}

func encode(v any, what string) ([]byte, error) {
	b, err := marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", what, err)
	}
	return b, nil
}

// Encode encodes r.
func (r GetResponse) Encode() ([]byte, error) { return encode(r, "get response") }

// Encode encodes r.
func (r SetRequest) Encode() ([]byte, error) { return encode(r, "set request") }

// Encode encodes r.
func (r IncrementRequest) Encode() ([]byte, error) { return encode(r, "increment request") }

// Encode encodes r.
func (r ListAddRequest) Encode() ([]byte, error) { return encode(r, "list add request") }

// Encode encodes r.
func (r ListDelRequest) Encode() ([]byte, error) { return encode(r, "list del request") }

// Encode encodes r.
func (r ListRangeRequest) Encode() ([]byte, error) { return encode(r, "list range request") }

// Encode encodes r.
func (r SetAddRequest) Encode() ([]byte, error) { return encode(r, "set add request") }

// Encode encodes r.
func (r SetDelRequest) Encode() ([]byte, error) { return encode(r, "set del request") }

// DecodeGetResponse decodes a GetResponse.
func DecodeGetResponse(b []byte) (GetResponse, error) {
	return decode[GetResponse](b, "get response")
}

// DecodeSetRequest decodes a SetRequest.
func DecodeSetRequest(b []byte) (SetRequest, error) {
	return decode[SetRequest](b, "set request")
}

// DecodeIncrementRequest decodes an IncrementRequest.
func DecodeIncrementRequest(b []byte) (IncrementRequest, error) {
	return decode[IncrementRequest](b, "increment request")
}

// DecodeListAddRequest decodes a ListAddRequest.
func DecodeListAddRequest(b []byte) (ListAddRequest, error) {
	return decode[ListAddRequest](b, "list add request")
}

// DecodeListDelRequest decodes a ListDelRequest.
func DecodeListDelRequest(b []byte) (ListDelRequest, error) {
	return decode[ListDelRequest](b, "list del request")
}

// DecodeListRangeRequest decodes a ListRangeRequest.
func DecodeListRangeRequest(b []byte) (ListRangeRequest, error) {
	return decode[ListRangeRequest](b, "list range request")
}

// DecodeSetAddRequest decodes a SetAddRequest.
func DecodeSetAddRequest(b []byte) (SetAddRequest, error) {
	return decode[SetAddRequest](b, "set add request")
}

// DecodeSetDelRequest decodes a SetDelRequest.
func DecodeSetDelRequest(b []byte) (SetDelRequest, error) {
	return decode[SetDelRequest](b, "set del request")
}
