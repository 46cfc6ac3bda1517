// Package keyvalue holds the wire types of the wasmcloud:keyvalue contract: the operations an
// actor invokes on a key-value provider and their arguments and results, encoded as
// wasmbus-rpc (rmp-serde, named fields) encodes them.
//
// Operations that take or return a bare string, bool, int32, uint32 or list of strings carry
// the msgpack scalar itself: use Marshal and Unmarshal for those, Encode and DecodeX for the
// structures.
//
// It is a leaf: it imports only the standard library and the contracts' hand-written codec
// (lattice/contracts/internal/codec), and compiles for GOOS=wasip1 so actors and providers
// share it. It must not import any other Trellis package.
package keyvalue

// ContractID is the capability contract id.
const ContractID = "wasmcloud:keyvalue"

// Operations, with their argument → result in the comments.
const (
	OpGet             = "KeyValue.Get"             // string → GetResponse
	OpSet             = "KeyValue.Set"             // SetRequest → nothing
	OpDel             = "KeyValue.Del"             // string → bool
	OpContains        = "KeyValue.Contains"        // string → bool
	OpIncrement       = "KeyValue.Increment"       // IncrementRequest → int32
	OpListAdd         = "KeyValue.ListAdd"         // ListAddRequest → uint32 (new length)
	OpListDel         = "KeyValue.ListDel"         // ListDelRequest → bool
	OpListClear       = "KeyValue.ListClear"       // string → bool
	OpListRange       = "KeyValue.ListRange"       // ListRangeRequest → []string
	OpSetAdd          = "KeyValue.SetAdd"          // SetAddRequest → uint32 (added)
	OpSetDel          = "KeyValue.SetDel"          // SetDelRequest → uint32 (removed)
	OpSetQuery        = "KeyValue.SetQuery"        // string → []string
	OpSetUnion        = "KeyValue.SetUnion"        // []string → []string
	OpSetIntersection = "KeyValue.SetIntersection" // []string → []string
	OpSetClear        = "KeyValue.SetClear"        // string → bool
)

// GetResponse is the result of Get; Value is empty when Exists is false.
type GetResponse struct {
	Value  string `msgpack:"value"`
	Exists bool   `msgpack:"exists"`
}

// SetRequest sets Key to Value; Expires is seconds until expiry, 0 for never.
type SetRequest struct {
	Key     string `msgpack:"key"`
	Value   string `msgpack:"value"`
	Expires uint32 `msgpack:"expires"`
}

// IncrementRequest adds Value (may be negative) to the number stored at Key.
type IncrementRequest struct {
	Key   string `msgpack:"key"`
	Value int32  `msgpack:"value"`
}

// ListAddRequest appends Value to the list ListName.
type ListAddRequest struct {
	ListName string `msgpack:"listName"`
	Value    string `msgpack:"value"`
}

// ListDelRequest removes the first Value from the list ListName.
type ListDelRequest struct {
	ListName string `msgpack:"listName"`
	Value    string `msgpack:"value"`
}

// ListRangeRequest reads ListName from Start to Stop, both 0-based and inclusive.
type ListRangeRequest struct {
	ListName string `msgpack:"listName"`
	Start    int32  `msgpack:"start"`
	Stop     int32  `msgpack:"stop"`
}

// SetAddRequest adds Value to the set SetName.
type SetAddRequest struct {
	SetName string `msgpack:"setName"`
	Value   string `msgpack:"value"`
}

// SetDelRequest removes Value from the set SetName.
type SetDelRequest struct {
	SetName string `msgpack:"setName"`
	Value   string `msgpack:"value"`
}
