package messaging_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice/contracts/messaging"
)

func unhex(parts ...string) string {
	return strings.ReplaceAll(strings.Join(parts, ""), " ", "")
}

type encoder interface{ Encode() ([]byte, error) }

func TestEncoding(t *testing.T) {
	const (
		subject = "a7 7375626a656374" // "subject"
		replyTo = "a7 7265706c79546f" // "replyTo"
		body    = "a4 626f6479"       // "body"
	)
	tests := []struct {
		name string
		in   encoder
		want string
	}{
		{"pub without reply", messaging.PubMessage{Subject: "s", Body: []byte("hi")},
			unhex("82", subject, "a1 73", body, "c4 02 6869")},
		{"pub with reply", messaging.PubMessage{Subject: "s", ReplyTo: "r", Body: nil},
			unhex("83", subject, "a1 73", replyTo, "a1 72", body, "c4 00")},
		{"sub", messaging.SubMessage{Subject: "s", ReplyTo: "r", Body: []byte{1}},
			unhex("83", subject, "a1 73", replyTo, "a1 72", body, "c4 01 01")},
		{"reply", messaging.ReplyMessage{Subject: "s"},
			unhex("82", subject, "a1 73", body, "c4 00")},
		{"request keeps a zero timeout", messaging.RequestMessage{Subject: "s"},
			unhex("83", subject, "a1 73", body, "c4 00", "a9 74696d656f75744d73", "00")},
		{"request", messaging.RequestMessage{Subject: "s", Body: []byte("q"), TimeoutMs: 2000},
			unhex("83", subject, "a1 73", body, "c4 01 71", "a9 74696d656f75744d73", "cd 07d0")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.Encode()
			require.NoError(t, err)
			require.Equal(t, tc.want, hex.EncodeToString(got))
		})
	}
}

func TestRoundTrips(t *testing.T) {
	sub := messaging.SubMessage{Subject: "a.b", ReplyTo: "_INBOX.1", Body: []byte("x")}
	b, err := sub.Encode()
	require.NoError(t, err)
	gotSub, err := messaging.DecodeSubMessage(b)
	require.NoError(t, err)
	require.Equal(t, sub, gotSub)

	pub := messaging.PubMessage{Subject: "a", Body: []byte("y")}
	b, err = pub.Encode()
	require.NoError(t, err)
	gotPub, err := messaging.DecodePubMessage(b)
	require.NoError(t, err)
	require.Equal(t, pub, gotPub)

	req := messaging.RequestMessage{Subject: "a", Body: []byte("z"), TimeoutMs: 1}
	b, err = req.Encode()
	require.NoError(t, err)
	gotReq, err := messaging.DecodeRequestMessage(b)
	require.NoError(t, err)
	require.Equal(t, req, gotReq)

	rep := messaging.ReplyMessage{Subject: "a", ReplyTo: "b", Body: []byte("w")}
	b, err = rep.Encode()
	require.NoError(t, err)
	gotRep, err := messaging.DecodeReplyMessage(b)
	require.NoError(t, err)
	require.Equal(t, rep, gotRep)
}

func TestDecodeErrors(t *testing.T) {
	_, err := messaging.DecodeSubMessage([]byte{0x81, 0xa4, 'b', 'o', 'd', 'y', 0xc3})
	require.ErrorContains(t, err, "decode sub message")
}

func FuzzDecodeSubMessage(f *testing.F) {
	seed, _ := messaging.SubMessage{Subject: "s", ReplyTo: "r", Body: []byte("b")}.Encode()
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := messaging.DecodeSubMessage(b)
		if err != nil {
			return
		}
		if _, err := m.Encode(); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
	})
}
