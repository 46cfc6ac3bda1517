// Package messaging holds the wire types of the wasmcloud:messaging contract: publish and
// request from an actor to a provider, and the message a provider delivers to a subscribed
// actor, encoded as wasmbus-rpc (rmp-serde, named fields) encodes them.
//
// ReplyTo is optional upstream (Option<String>, skipped when None): an empty ReplyTo is left
// out of the encoding, never sent as "". Bodies are always sent as bin, empty when nil.
//
// It is a leaf: it imports only the standard library and the msgpack codec, and compiles for
// GOOS=wasip1 so actors and providers share it. It must not import any other Trellis package.
package messaging

import "fmt"

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
	m.Body = nonNil(m.Body)
	return encode(m, "pub message")
}

// Encode encodes m.
func (m RequestMessage) Encode() ([]byte, error) {
	m.Body = nonNil(m.Body)
	return encode(m, "request message")
}

// Encode encodes m.
func (m ReplyMessage) Encode() ([]byte, error) {
	m.Body = nonNil(m.Body)
	return encode(m, "reply message")
}

// Encode encodes m.
func (m SubMessage) Encode() ([]byte, error) {
	m.Body = nonNil(m.Body)
	return encode(m, "sub message")
}

// DecodePubMessage decodes a PubMessage.
func DecodePubMessage(b []byte) (PubMessage, error) {
	return decode[PubMessage](b, "pub message")
}

// DecodeRequestMessage decodes a RequestMessage.
func DecodeRequestMessage(b []byte) (RequestMessage, error) {
	return decode[RequestMessage](b, "request message")
}

// DecodeReplyMessage decodes a ReplyMessage.
func DecodeReplyMessage(b []byte) (ReplyMessage, error) {
	return decode[ReplyMessage](b, "reply message")
}

// DecodeSubMessage decodes a SubMessage.
func DecodeSubMessage(b []byte) (SubMessage, error) {
	return decode[SubMessage](b, "sub message")
}

func encode(v any, what string) ([]byte, error) {
	b, err := marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", what, err)
	}
	return b, nil
}

func decode[T any](b []byte, what string) (T, error) {
	var v T
	if err := unmarshal(b, &v); err != nil {
		var zero T
		return zero, fmt.Errorf("decode %s: %w", what, err)
	}
	return v, nil
}
