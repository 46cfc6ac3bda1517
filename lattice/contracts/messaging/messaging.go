// Package messaging holds the wire types of the wasmcloud:messaging contract: publish and
// request from an actor to a provider, and the message a provider delivers to a subscribed
// actor, encoded as wasmbus-rpc (rmp-serde, named fields) encodes them.
//
// ReplyTo is optional upstream (Option<String>, skipped when None): an empty ReplyTo is left
// out of the encoding, never sent as "". Bodies are always sent as bin, empty when nil.
//
// It is a leaf: it imports only the standard library and the contracts' hand-written codec
// (lattice/contracts/internal/codec), and compiles for GOOS=wasip1 so actors and providers
// share it. It must not import any other Trellis package.
package messaging

import (
	"math"

	"github.com/trellis-lattice/trellis/lattice/contracts/internal/codec"
)

// ContractID is the capability contract id.
const ContractID = "wasmcloud:messaging"

// Operations.
const (
	OpPublish       = "Messaging.Publish"               // actor → provider: PubMessage → nothing
	OpRequest       = "Messaging.Request"               // actor → provider: RequestMessage → ReplyMessage
	OpHandleMessage = "MessageSubscriber.HandleMessage" // provider → actor: SubMessage → nothing
)

// PubMessage is a message to publish; ReplyTo asks for an asynchronous reply there.
type PubMessage struct {
	Subject string `msgpack:"subject"`
	ReplyTo string `msgpack:"replyTo,omitempty"`
	Body    []byte `msgpack:"body"`
}

// RequestMessage is a request waiting up to TimeoutMs for one reply.
type RequestMessage struct {
	Subject   string `msgpack:"subject"`
	Body      []byte `msgpack:"body"`
	TimeoutMs uint32 `msgpack:"timeoutMs"`
}

// ReplyMessage is the reply to a RequestMessage.
type ReplyMessage struct {
	Subject string `msgpack:"subject"`
	ReplyTo string `msgpack:"replyTo,omitempty"`
	Body    []byte `msgpack:"body"`
}

// SubMessage is a message delivered to an actor from one of its subscriptions.
type SubMessage struct {
	Subject string `msgpack:"subject"`
	ReplyTo string `msgpack:"replyTo,omitempty"`
	Body    []byte `msgpack:"body"`
}

// Encode encodes m.
func (m PubMessage) Encode() ([]byte, error) {
	return encodeMessage("pub message", m.Subject, m.ReplyTo, m.Body)
}

// Encode encodes m.
func (m RequestMessage) Encode() ([]byte, error) {
	if err := codec.CheckLen(len(m.Subject) | len(m.Body)); err != nil {
		return nil, codec.Wrap("encode request message", err)
	}
	b := make([]byte, 0, 1+8+codec.StrSize(len(m.Subject))+5+codec.BinSize(len(m.Body))+10+codec.UintSize)
	b = append(b, 0x83)
	b = codec.AppendString(append(b, "\xa7subject"...), m.Subject)
	b = codec.AppendBin(append(b, "\xa4body"...), m.Body)
	b = codec.AppendUint(append(b, "\xa9timeoutMs"...), uint64(m.TimeoutMs))
	return b, nil
}

// Encode encodes m.
func (m ReplyMessage) Encode() ([]byte, error) {
	return encodeMessage("reply message", m.Subject, m.ReplyTo, m.Body)
}

// Encode encodes m.
func (m SubMessage) Encode() ([]byte, error) {
	return encodeMessage("sub message", m.Subject, m.ReplyTo, m.Body)
}

// DecodePubMessage decodes a PubMessage.
func DecodePubMessage(b []byte) (PubMessage, error) {
	s, r, body, err := decodeMessage("pub message", b)
	return PubMessage{Subject: s, ReplyTo: r, Body: body}, err
}

// DecodeRequestMessage decodes a RequestMessage.
func DecodeRequestMessage(b []byte) (RequestMessage, error) {
	var m RequestMessage
	d := codec.NewDecoder(b)
	n, array, err := d.Struct(3)
	for i := 0; i < n && err == nil; i++ {
		field := i
		if !array {
			field = -1
			var k []byte
			if k, err = d.RawString(); err != nil {
				break
			}
			switch string(k) {
			case "subject":
				field = 0
			case "body":
				field = 1
			case "timeoutMs":
				field = 2
			}
		}
		switch field {
		case 0:
			m.Subject, err = d.String()
		case 1:
			m.Body, err = d.Bytes()
		case 2:
			var v uint64
			v, err = d.Uint(math.MaxUint32)
			m.TimeoutMs = uint32(v)
		default:
			err = d.Skip()
		}
	}
	if err != nil {
		return RequestMessage{}, codec.Wrap("decode request message", err)
	}
	return m, nil
}

// DecodeReplyMessage decodes a ReplyMessage.
func DecodeReplyMessage(b []byte) (ReplyMessage, error) {
	s, r, body, err := decodeMessage("reply message", b)
	return ReplyMessage{Subject: s, ReplyTo: r, Body: body}, err
}

// DecodeSubMessage decodes a SubMessage.
func DecodeSubMessage(b []byte) (SubMessage, error) {
	s, r, body, err := decodeMessage("sub message", b)
	return SubMessage{Subject: s, ReplyTo: r, Body: body}, err
}

// encodeMessage encodes the {subject, replyTo, body} shape the other three messages share,
// leaving replyTo out when empty and sending a nil body as empty bin.
func encodeMessage(what, subject, replyTo string, body []byte) ([]byte, error) {
	if err := codec.CheckLen(len(subject) | len(replyTo) | len(body)); err != nil {
		return nil, codec.Wrap("encode "+what, err)
	}
	b := make([]byte, 0, 1+8+codec.StrSize(len(subject))+8+codec.StrSize(len(replyTo))+5+codec.BinSize(len(body)))
	if replyTo == "" {
		b = append(b, 0x82)
		b = codec.AppendString(append(b, "\xa7subject"...), subject)
	} else {
		b = append(b, 0x83)
		b = codec.AppendString(append(b, "\xa7subject"...), subject)
		b = codec.AppendString(append(b, "\xa7replyTo"...), replyTo)
	}
	return codec.AppendBin(append(b, "\xa4body"...), body), nil
}

// decodeMessage decodes the {subject, replyTo, body} shape.
func decodeMessage(what string, b []byte) (subject, replyTo string, body []byte, err error) {
	d := codec.NewDecoder(b)
	n, array, err := d.Struct(3)
	for i := 0; i < n && err == nil; i++ {
		field := i
		if !array {
			field = -1
			var k []byte
			if k, err = d.RawString(); err != nil {
				break
			}
			switch string(k) {
			case "subject":
				field = 0
			case "replyTo":
				field = 1
			case "body":
				field = 2
			}
		}
		switch field {
		case 0:
			subject, err = d.String()
		case 1:
			replyTo, err = d.String()
		case 2:
			body, err = d.Bytes()
		default:
			err = d.Skip()
		}
	}
	if err != nil {
		return "", "", nil, codec.Wrap("decode "+what, err)
	}
	return subject, replyTo, body, nil
}
