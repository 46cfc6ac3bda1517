package keyvalue

import (
	"github.com/trellis-lattice/trellis/lattice/contracts/internal/codec"
)

// errUnsupported is returned by Marshal and Unmarshal for a type the contract does not use.
type errUnsupported struct{}

func (errUnsupported) Error() string {
	return "unsupported type: want a string, bool, integer, []string or []byte"
}

// Marshal encodes a bare argument or result (string, bool, int32, uint32, []string) as the
// msgpack scalar or array itself. A nil []string is sent as an empty array. Other integer
// types and []byte (as bin) are accepted too.
func Marshal(v any) ([]byte, error) {
	var b []byte
	switch x := v.(type) {
	case string:
		if err := codec.CheckLen(len(x)); err != nil {
			return nil, codec.Wrap("encode keyvalue string", err)
		}
		b = codec.AppendString(make([]byte, 0, codec.StrSize(len(x))), x)
	case bool:
		b = codec.AppendBool(nil, x)
	case int32:
		b = codec.AppendInt(nil, int64(x))
	case uint32:
		b = codec.AppendUint(nil, uint64(x))
	case int:
		b = codec.AppendInt(nil, int64(x))
	case int64:
		b = codec.AppendInt(nil, x)
	case int16:
		b = codec.AppendInt(nil, int64(x))
	case int8:
		b = codec.AppendInt(nil, int64(x))
	case uint:
		b = codec.AppendUint(nil, uint64(x))
	case uint64:
		b = codec.AppendUint(nil, x)
	case uint16:
		b = codec.AppendUint(nil, uint64(x))
	case uint8:
		b = codec.AppendUint(nil, uint64(x))
	case []string:
		n := codec.HeaderSize(len(x))
		for _, s := range x {
			if err := codec.CheckLen(len(s)); err != nil {
				return nil, codec.Wrap("encode keyvalue []string", err)
			}
			n += codec.StrSize(len(s))
		}
		b = codec.AppendArrayHeader(make([]byte, 0, n), len(x))
		for _, s := range x {
			b = codec.AppendString(b, s)
		}
	case []byte:
		if err := codec.CheckLen(len(x)); err != nil {
			return nil, codec.Wrap("encode keyvalue []uint8", err)
		}
		b = codec.AppendBin(make([]byte, 0, codec.BinSize(len(x))), x)
	default:
		return nil, codec.Wrap("encode keyvalue", errUnsupported{})
	}
	return b, nil
}

// Unmarshal decodes a bare argument or result into v (a *string, *bool, *int32, *uint32 or
// *[]string; pointers to other integer types and *[]byte are accepted too). An integer that
// does not fit v is an error.
func Unmarshal(b []byte, v any) error {
	d := codec.NewDecoder(b)
	var err error
	var what string
	switch p := v.(type) {
	case *string:
		what = "*string"
		*p, err = d.String()
	case *bool:
		what = "*bool"
		*p, err = d.Bool()
	case *int32:
		what = "*int32"
		*p, err = d.Int32()
	case *uint32:
		what = "*uint32"
		*p, err = d.Uint32()
	case *[]string:
		what = "*[]string"
		*p, err = d.Strings()
	case *int:
		what = "*int"
		var n int64
		n, err = d.Int(minInt, maxInt)
		*p = int(n)
	case *int64:
		what = "*int64"
		*p, err = d.Int(-1<<63, 1<<63-1)
	case *uint64:
		what = "*uint64"
		*p, err = d.Uint(1<<64 - 1)
	case *[]byte:
		what = "*[]uint8"
		*p, err = d.Bytes()
	default:
		return codec.Wrap("decode keyvalue", errUnsupported{})
	}
	return codec.Wrap("decode keyvalue "+what, err)
}

const (
	maxInt = int64(^uint(0) >> 1)
	minInt = -maxInt - 1
)

// decodeStruct is the shared body of the DecodeX functions.
func decodeStruct(b []byte, what string, names []string, field func(i int, d *codec.Decoder) error) error {
	d := codec.NewDecoder(b)
	return codec.Wrap("decode "+what, codec.DecodeStruct(&d, names, field))
}

// encodeStrings encodes a map of string fields named by names (the shape of the list and set
// requests).
func encodeStrings(what string, names []string, values ...string) ([]byte, error) {
	n := 1
	for i, v := range values {
		if err := codec.CheckLen(len(v)); err != nil {
			return nil, codec.Wrap("encode "+what, err)
		}
		n += codec.StrSize(len(names[i])) + codec.StrSize(len(v))
	}
	b := codec.AppendMapHeader(make([]byte, 0, n), len(values))
	for i, v := range values {
		b = codec.AppendString(codec.AppendString(b, names[i]), v)
	}
	return b, nil
}

var (
	getResponseFields = []string{"value", "exists"}
	setRequestFields  = []string{"key", "value", "expires"}
	incrementFields   = []string{"key", "value"}
	listFields        = []string{"listName", "value"}
	listRangeFields   = []string{"listName", "start", "stop"}
	setFields         = []string{"setName", "value"}
)

// Encode encodes r.
func (r GetResponse) Encode() ([]byte, error) {
	if err := codec.CheckLen(len(r.Value)); err != nil {
		return nil, codec.Wrap("encode get response", err)
	}
	b := make([]byte, 0, 1+6+codec.StrSize(len(r.Value))+7+1)
	b = append(b, 0x82)
	b = codec.AppendString(append(b, "\xa5value"...), r.Value)
	return codec.AppendBool(append(b, "\xa6exists"...), r.Exists), nil
}

// Encode encodes r.
func (r SetRequest) Encode() ([]byte, error) {
	if err := codec.CheckLen(len(r.Key) | len(r.Value)); err != nil {
		return nil, codec.Wrap("encode set request", err)
	}
	b := make([]byte, 0, 1+4+codec.StrSize(len(r.Key))+6+codec.StrSize(len(r.Value))+8+codec.UintSize)
	b = append(b, 0x83)
	b = codec.AppendString(append(b, "\xa3key"...), r.Key)
	b = codec.AppendString(append(b, "\xa5value"...), r.Value)
	return codec.AppendUint(append(b, "\xa7expires"...), uint64(r.Expires)), nil
}

// Encode encodes r.
func (r IncrementRequest) Encode() ([]byte, error) {
	if err := codec.CheckLen(len(r.Key)); err != nil {
		return nil, codec.Wrap("encode increment request", err)
	}
	b := make([]byte, 0, 1+4+codec.StrSize(len(r.Key))+6+codec.UintSize)
	b = append(b, 0x82)
	b = codec.AppendString(append(b, "\xa3key"...), r.Key)
	return codec.AppendInt(append(b, "\xa5value"...), int64(r.Value)), nil
}

// Encode encodes r.
func (r ListAddRequest) Encode() ([]byte, error) {
	return encodeStrings("list add request", listFields, r.ListName, r.Value)
}

// Encode encodes r.
func (r ListDelRequest) Encode() ([]byte, error) {
	return encodeStrings("list del request", listFields, r.ListName, r.Value)
}

// Encode encodes r.
func (r ListRangeRequest) Encode() ([]byte, error) {
	if err := codec.CheckLen(len(r.ListName)); err != nil {
		return nil, codec.Wrap("encode list range request", err)
	}
	b := make([]byte, 0, 1+9+codec.StrSize(len(r.ListName))+6+5+2*codec.UintSize)
	b = append(b, 0x83)
	b = codec.AppendString(append(b, "\xa8listName"...), r.ListName)
	b = codec.AppendInt(append(b, "\xa5start"...), int64(r.Start))
	return codec.AppendInt(append(b, "\xa4stop"...), int64(r.Stop)), nil
}

// Encode encodes r.
func (r SetAddRequest) Encode() ([]byte, error) {
	return encodeStrings("set add request", setFields, r.SetName, r.Value)
}

// Encode encodes r.
func (r SetDelRequest) Encode() ([]byte, error) {
	return encodeStrings("set del request", setFields, r.SetName, r.Value)
}

// DecodeGetResponse decodes a GetResponse.
func DecodeGetResponse(b []byte) (GetResponse, error) {
	var r GetResponse
	err := decodeStruct(b, "get response", getResponseFields, func(i int, d *codec.Decoder) (err error) {
		if i == 0 {
			r.Value, err = d.String()
		} else {
			r.Exists, err = d.Bool()
		}
		return err
	})
	if err != nil {
		return GetResponse{}, err
	}
	return r, nil
}

// DecodeSetRequest decodes a SetRequest.
func DecodeSetRequest(b []byte) (SetRequest, error) {
	var r SetRequest
	err := decodeStruct(b, "set request", setRequestFields, func(i int, d *codec.Decoder) (err error) {
		switch i {
		case 0:
			r.Key, err = d.String()
		case 1:
			r.Value, err = d.String()
		default:
			r.Expires, err = d.Uint32()
		}
		return err
	})
	if err != nil {
		return SetRequest{}, err
	}
	return r, nil
}

// DecodeIncrementRequest decodes an IncrementRequest.
func DecodeIncrementRequest(b []byte) (IncrementRequest, error) {
	var r IncrementRequest
	err := decodeStruct(b, "increment request", incrementFields, func(i int, d *codec.Decoder) (err error) {
		if i == 0 {
			r.Key, err = d.String()
		} else {
			r.Value, err = d.Int32()
		}
		return err
	})
	if err != nil {
		return IncrementRequest{}, err
	}
	return r, nil
}

// decodeStringPair decodes the two-string shape of the list and set requests.
func decodeStringPair(b []byte, what string, names []string) (string, string, error) {
	var v [2]string
	err := decodeStruct(b, what, names, func(i int, d *codec.Decoder) (err error) {
		v[i], err = d.String()
		return err
	})
	if err != nil {
		return "", "", err
	}
	return v[0], v[1], nil
}

// DecodeListAddRequest decodes a ListAddRequest.
func DecodeListAddRequest(b []byte) (ListAddRequest, error) {
	l, v, err := decodeStringPair(b, "list add request", listFields)
	return ListAddRequest{ListName: l, Value: v}, err
}

// DecodeListDelRequest decodes a ListDelRequest.
func DecodeListDelRequest(b []byte) (ListDelRequest, error) {
	l, v, err := decodeStringPair(b, "list del request", listFields)
	return ListDelRequest{ListName: l, Value: v}, err
}

// DecodeListRangeRequest decodes a ListRangeRequest.
func DecodeListRangeRequest(b []byte) (ListRangeRequest, error) {
	var r ListRangeRequest
	err := decodeStruct(b, "list range request", listRangeFields, func(i int, d *codec.Decoder) (err error) {
		switch i {
		case 0:
			r.ListName, err = d.String()
		case 1:
			r.Start, err = d.Int32()
		default:
			r.Stop, err = d.Int32()
		}
		return err
	})
	if err != nil {
		return ListRangeRequest{}, err
	}
	return r, nil
}

// DecodeSetAddRequest decodes a SetAddRequest.
func DecodeSetAddRequest(b []byte) (SetAddRequest, error) {
	s, v, err := decodeStringPair(b, "set add request", setFields)
	return SetAddRequest{SetName: s, Value: v}, err
}

// DecodeSetDelRequest decodes a SetDelRequest.
func DecodeSetDelRequest(b []byte) (SetDelRequest, error) {
	s, v, err := decodeStringPair(b, "set del request", setFields)
	return SetDelRequest{SetName: s, Value: v}, err
}
