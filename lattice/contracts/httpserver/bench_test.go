package httpserver_test

import (
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
)

// The requests a benchmark runs on: the bare GET of the host's in-process benchmark, and what
// curl sends.
var benchRequests = []struct {
	name string
	req  httpserver.HttpRequest
}{
	{"get", httpserver.HttpRequest{Method: "GET", Path: "/"}},
	{"curl", httpserver.HttpRequest{Method: "GET", Path: "/api/items", QueryString: "page=2", Header: httpserver.HeaderMap{
		"host": {"localhost:8080"}, "user-agent": {"curl/8.5.0"}, "accept": {"*/*"}}}},
}

var benchResponse = httpserver.HttpResponse{StatusCode: 200, Body: []byte(`{"body":[],"method":"GET","path":"/","query_string":""}`)}

func BenchmarkRequestEncode(b *testing.B) {
	for _, bc := range benchRequests {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.req.Encode(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRequestDecode(b *testing.B) {
	for _, bc := range benchRequests {
		msg, err := bc.req.Encode()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := httpserver.DecodeRequest(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		// The reflection-based decoder the package used before, as a baseline for the ratio.
		b.Run(bc.name+"/reflection", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var r httpserver.HttpRequest
				if err := msgpack.Unmarshal(msg, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkResponseEncode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := benchResponse.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResponseAppendBinary(b *testing.B) {
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = benchResponse.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResponseDecode(b *testing.B) {
	msg, err := benchResponse.Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := httpserver.DecodeResponse(msg); err != nil {
			b.Fatal(err)
		}
	}
}
