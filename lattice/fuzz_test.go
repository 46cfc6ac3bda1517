package lattice

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// FuzzDecodeControlJSON feeds arbitrary bytes to every JSON shape of the control interface, the
// events and the lattice bucket, and to the checks the ctl client and the store run on them.
// Nothing may panic.
func FuzzDecodeControlJSON(f *testing.F) {
	host, _ := CreateKeyPair(PrefixServer)
	actor, _ := CreateKeyPair(PrefixModule)
	provider, _ := CreateKeyPair(PrefixService)
	for _, seed := range []string{
		`{"accepted":true,"error":""}`,
		`{"accepted":false,"error":"nope"}`,
		`{"id":"` + host.PublicKey() + `","labels":{"a":"b"},"uptime_seconds":3,"cluster_issuers":"C1,C2"}`,
		`{"host_id":"` + host.PublicKey() + `","actors":[{"id":"M","instances":[{"instance_id":"i","revision":1,"annotations":null}]}],"providers":[{"id":"V","state":"running"}]}`,
		`{"claims":[{"sub":"M","caps":"a,b"}]}`,
		`{"claims":[],"next":"M","total":3}`, `{"links":[],"next":"X","total":2}`, `{"after":"X"}`,
		`{"links":[{"id":"X","actor_id":"` + actor.PublicKey() + `","provider_id":"` + provider.PublicKey() + `","contract_id":"c","link_name":"default","values":{"K":"V"},"jwt":"a.b.c"}]}`,
		`{"actor_id":"` + actor.PublicKey() + `","provider_id":"` + provider.PublicKey() + `","contract_id":"wasmcloud:httpserver","values":null}`,
		`{"actor_ref":"echo:0.1","host_id":"` + host.PublicKey() + `","count":65535,"annotations":{"x":"y"}}`,
		`{"actor_ref":"r","count":-1}`,
		`{"actor_id":"M","count":0,"min_instances":1,"max_instances":65536}`, `{"actors":[{"id":"M","instances_in_use":1,"instances_idle":-2,"max_instances":3}]}`,
		`{"host_id":"N","timeout":18446744073709551615}`,
		`{"provider_ref":"p","link_name":"default","constraints":{"zone":"x"}}`,
		`{"server":{"registryType":"oci","username":"u","password":"p"}}`,
		`{"specversion":"1.0","type":"com.wasmcloud.lattice.actor_started","source":"N","id":"1","time":"t","datacontenttype":"application/json","data":{"public_key":"M","claims":{"a":[1]}}}`,
		`{"oci_url":"127.0.0.1:5000/echo:0.1","public_key":"` + actor.PublicKey() + `"}`,
		`null`, `[]`, `{}`, `"x"`, `{"values":{"a":1}}`, "\xff",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		targets := []any{
			&Ack{}, &Host{}, &HostInventory{}, &ClaimsList{}, &LinkList{}, &LinkDelete{}, &PageQuery{},
			&StartActorCommand{}, &StopActorCommand{}, &ScaleActorCommand{}, &UpdateActorCommand{},
			&StartProviderCommand{}, &StopProviderCommand{}, &StopHostCommand{},
			&ActorAuctionRequest{}, &ActorAuctionAck{}, &ProviderAuctionRequest{}, &ProviderAuctionAck{},
			&RegistryCredentialMap{}, &CloudEvent{}, &LinkDefinition{}, &RefMap{},
			&HostHeartbeatData{}, &ActorStartedData{}, &LinkdefData{},
		}
		for _, v := range targets {
			_ = json.Unmarshal(data, v)
		}

		var l LinkDefinition
		if json.Unmarshal(data, &l) == nil {
			l.Normalize()
			_ = l.Validate()
			_ = l.Key()
		}
		var cmd StartActorCommand
		if json.Unmarshal(data, &cmd) == nil {
			_ = checkHostID("start actor", cmd.HostID)
			_ = checkLatticeName(cmd.ActorRef)
		}
		if e, err := decodeCloudEvent(data); err == nil {
			_ = e.Name()
			var d ActorStartedData
			_ = e.DecodeData(&d)
		}
		for _, key := range []string{"LINKDEF_X", "CLAIMS_" + actor.PublicKey(), RefMapKey(string(data)), "REFMAP_!!", "OTHER"} {
			for _, op := range []StoreOp{OpPut, OpDelete} {
				c := decodeStoreChange(op, key, data)
				if c.Op == OpPut && c.Kind != KindOther && c.DecodeErr == nil && c.Link == nil && c.Claims == nil && c.RefMap == nil {
					t.Fatalf("put of %s decoded to nothing without an error", key)
				}
			}
		}
	})
}

// FuzzDecodeInvocation feeds arbitrary bytes to the invocation and response decoders and the
// anti-forgery check. Nothing may panic, and what decodes must survive an encode/decode round
// trip unchanged.
func FuzzDecodeInvocation(f *testing.F) {
	cluster, _ := CreateKeyPair(PrefixCluster)
	actor, _ := CreateKeyPair(PrefixModule)
	origin := Entity{PublicKey: "VPROVIDER", ContractID: "wasmcloud:httpserver", LinkName: "default"}
	inv, err := NewInvocation(cluster, "NHOST", origin, Entity{PublicKey: actor.PublicKey()}, "HttpServer.HandleRequest", []byte{0x80})
	if err != nil {
		f.Fatal(err)
	}
	n := uint64(1)
	inv.ContentLength = &n
	inv.TraceContext = map[string]string{"traceparent": "00-1-2-01"}
	enc, err := inv.Encode()
	if err != nil {
		f.Fatal(err)
	}
	inv.TraceContext = map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate": "a=b"}
	traced, err := inv.Encode()
	if err != nil {
		f.Fatal(err)
	}
	resp := &InvocationResponse{Msg: []byte("ok"), InvocationID: inv.ID, Error: "boom"}
	respEnc, err := resp.Encode()
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{enc, traced, respEnc, {}, {0x80}, {0xc0}, {0xdf, 0xff, 0xff, 0xff, 0xff}, []byte("garbage"), []byte("\x81\xa3msg\xc6\xf0\x00\x00\x00"), []byte("\x94\xc6\xf0\x00\x00\x00")} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if r, err := DecodeInvocationResponse(data); err == nil {
			if _, err := r.Encode(); err != nil {
				t.Fatalf("re-encode response: %v", err)
			}
		}
		inv, err := DecodeInvocation(data)
		if err != nil {
			return
		}
		_ = inv.Validate([]string{cluster.PublicKey()}, time.Now())
		// Whatever traceContext holds, reading it yields a valid remote span context or none.
		if sc := trace.SpanContextFromContext(ExtractTraceContext(context.Background(), inv.TraceContext)); sc.IsValid() && !sc.IsRemote() {
			t.Fatalf("trace context %v read as a local span context", inv.TraceContext)
		}
		_ = inv.TargetURL()
		_ = inv.Origin.URL()
		once := roundTrip(t, inv)
		twice := roundTrip(t, once)
		if !reflect.DeepEqual(once, twice) {
			t.Fatalf("round trip changed the invocation:\n%#v\n%#v", once, twice)
		}
	})
}

func roundTrip(t *testing.T, inv *Invocation) *Invocation {
	t.Helper()
	enc, err := inv.Encode()
	if err != nil {
		t.Fatalf("encode decoded invocation: %v", err)
	}
	out, err := DecodeInvocation(enc)
	if err != nil {
		t.Fatalf("decode re-encoded invocation: %v", err)
	}
	return out
}
