package keyvalue_test

import (
	"context"
	"testing"

	"github.com/trellis-lattice/trellis/lattice"
	kv "github.com/trellis-lattice/trellis/lattice/contracts/keyvalue"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/providers"
	"github.com/trellis-lattice/trellis/providers/keyvalue"
)

// FuzzKeyValueHandle sends arbitrary msgpack to every operation of an in-memory link: Handle
// must answer (an error is fine) and never panic. The store is shared across inputs so
// operations meet keys of every kind left by earlier ones.
func FuzzKeyValueHandle(f *testing.F) {
	ops := append(keyvalue.Operations(), "KeyValue.Keys", "")
	seeds := map[string]any{
		kv.OpGet:             "k",
		kv.OpSet:             kv.SetRequest{Key: "k", Value: "1", Expires: 1},
		kv.OpDel:             "k",
		kv.OpContains:        "k",
		kv.OpIncrement:       kv.IncrementRequest{Key: "k", Value: -5},
		kv.OpListAdd:         kv.ListAddRequest{ListName: "l", Value: "v"},
		kv.OpListDel:         kv.ListDelRequest{ListName: "l", Value: "v"},
		kv.OpListClear:       "l",
		kv.OpListRange:       kv.ListRangeRequest{ListName: "l", Start: -3, Stop: 2147483647},
		kv.OpSetAdd:          kv.SetAddRequest{SetName: "s", Value: "v"},
		kv.OpSetDel:          kv.SetDelRequest{SetName: "s", Value: "v"},
		kv.OpSetQuery:        "s",
		kv.OpSetUnion:        []string{"s", "k", "l"},
		kv.OpSetIntersection: []string{"s", "t"},
		kv.OpSetClear:        "s",
	}
	for i, op := range ops {
		var msg []byte
		if arg, ok := seeds[op]; ok {
			if e, ok := arg.(interface{ Encode() ([]byte, error) }); ok {
				msg, _ = e.Encode()
			} else {
				msg, _ = kv.Marshal(arg)
			}
		}
		f.Add(uint8(i), msg)
	}
	f.Add(uint8(0), []byte{0xc1})
	f.Add(uint8(4), []byte{0x82, 0xa3, 'k', 'e', 'y', 0xa1, 'k', 0xa5, 'v', 'a', 'l', 'u', 'e', 0xd2, 0x80, 0, 0, 0})
	f.Add(uint8(12), []byte{0xdd, 0xff, 0xff, 0xff, 0xff})

	p, err := keyvalue.New(keyvalue.DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	actor := latticetest.Key(f, lattice.PrefixModule).PublicKey()
	l := lattice.LinkDefinition{ActorID: actor, ContractID: kv.ContractID, LinkName: lattice.DefaultLinkName}
	if err := p.PutLink(context.Background(), l); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, opIndex uint8, msg []byte) {
		op := ops[int(opIndex)%len(ops)]
		out, err := p.Handle(context.Background(), providers.Invocation{
			Origin: lattice.Entity{PublicKey: actor}, Operation: op, Msg: msg, Link: l,
		})
		if err == nil && out == nil {
			t.Fatalf("%s(%x): nil payload without an error", op, msg)
		}
	})
}
