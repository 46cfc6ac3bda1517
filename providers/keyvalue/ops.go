package keyvalue

import (
	"context"
	"fmt"
	"time"

	"github.com/trellis-lattice/trellis/lattice"
	kv "github.com/trellis-lattice/trellis/lattice/contracts/keyvalue"
)

// op serves one operation on a backend: it decodes msg, calls the backend and encodes the result.
type op func(ctx context.Context, s store, msg []byte) ([]byte, error)

// ops are the operations of the contract, by name.
var ops = map[string]op{
	kv.OpGet: func(ctx context.Context, s store, msg []byte) ([]byte, error) {
		key, err := arg[string](msg)
		if err != nil {
			return nil, err
		}
		v, ok, err := s.get(ctx, key)
		if err != nil {
			return nil, err
		}
		return kv.GetResponse{Value: v, Exists: ok}.Encode()
	},
	kv.OpSet: func(ctx context.Context, s store, msg []byte) ([]byte, error) {
		req, err := structArg(msg, kv.DecodeSetRequest)
		if err != nil {
			return nil, err
		}
		// Upstream answers a unit result with an empty payload.
		return []byte{}, s.set(ctx, req.Key, req.Value, time.Duration(req.Expires)*time.Second)
	},
	kv.OpDel:      keyOp(store.del),
	kv.OpContains: keyOp(store.contains),
	kv.OpIncrement: func(ctx context.Context, s store, msg []byte) ([]byte, error) {
		req, err := structArg(msg, kv.DecodeIncrementRequest)
		if err != nil {
			return nil, err
		}
		return result(s.increment(ctx, req.Key, req.Value))
	},
	kv.OpListAdd: func(ctx context.Context, s store, msg []byte) ([]byte, error) {
		req, err := structArg(msg, kv.DecodeListAddRequest)
		if err != nil {
			return nil, err
		}
		return result(s.listAdd(ctx, req.ListName, req.Value))
	},
	kv.OpListDel: func(ctx context.Context, s store, msg []byte) ([]byte, error) {
		req, err := structArg(msg, kv.DecodeListDelRequest)
		if err != nil {
			return nil, err
		}
		return result(s.listDel(ctx, req.ListName, req.Value))
	},
	// ListClear and SetClear delete the key, whatever it holds, as upstream's kvredis does.
	kv.OpListClear: keyOp(store.del),
	kv.OpListRange: func(ctx context.Context, s store, msg []byte) ([]byte, error) {
		req, err := structArg(msg, kv.DecodeListRangeRequest)
		if err != nil {
			return nil, err
		}
		return result(s.listRange(ctx, req.ListName, req.Start, req.Stop))
	},
	kv.OpSetAdd: func(ctx context.Context, s store, msg []byte) ([]byte, error) {
		req, err := structArg(msg, kv.DecodeSetAddRequest)
		if err != nil {
			return nil, err
		}
		return result(s.setAdd(ctx, req.SetName, req.Value))
	},
	kv.OpSetDel: func(ctx context.Context, s store, msg []byte) ([]byte, error) {
		req, err := structArg(msg, kv.DecodeSetDelRequest)
		if err != nil {
			return nil, err
		}
		return result(s.setDel(ctx, req.SetName, req.Value))
	},
	kv.OpSetQuery:        keyOp(store.setQuery),
	kv.OpSetUnion:        setsOp(store.setUnion),
	kv.OpSetIntersection: setsOp(store.setIntersection),
	kv.OpSetClear:        keyOp(store.del),
}

// keyOp is an operation whose argument is a bare key.
func keyOp[R any](f func(store, context.Context, string) (R, error)) op {
	return func(ctx context.Context, s store, msg []byte) ([]byte, error) {
		key, err := arg[string](msg)
		if err != nil {
			return nil, err
		}
		return result(f(s, ctx, key))
	}
}

// setsOp is an operation whose argument is a list of set names.
func setsOp(f func(store, context.Context, []string) ([]string, error)) op {
	return func(ctx context.Context, s store, msg []byte) ([]byte, error) {
		names, err := arg[[]string](msg)
		if err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, ErrNoSets
		}
		return result(f(s, ctx, names))
	}
}

// arg decodes a bare msgpack argument (a string or a list of strings).
func arg[T any](msg []byte) (T, error) {
	var v T
	if err := kv.Unmarshal(msg, &v); err != nil {
		var zero T
		return zero, fmt.Errorf("%w: %v", lattice.ErrMalformedMsgpack, err)
	}
	return v, nil
}

// structArg decodes a structured argument with the contract's decoder.
func structArg[T any](msg []byte, decode func([]byte) (T, error)) (T, error) {
	v, err := decode(msg)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%w: %v", lattice.ErrMalformedMsgpack, err)
	}
	return v, nil
}

// result encodes a bare result (bool, int32, uint32, []string) as the msgpack scalar or array.
func result[R any](v R, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return kv.Marshal(v)
}
