package actor

import (
	"github.com/trellis-lattice/trellis/lattice/contracts/messaging"
)

// HandleMessage registers fn for MessageSubscriber.HandleMessage, the operation a messaging
// provider invokes for each message on the actor's subscriptions. The reply payload is empty.
func HandleMessage(fn func(messaging.SubMessage) error) {
	register(messaging.OpHandleMessage, handler{borrows: true, fn: func(msg []byte) ([]byte, error) {
		m, err := messaging.DecodeSubMessage(msg)
		if err != nil {
			return nil, err
		}
		return nil, fn(m)
	}})
}

// Publish sends m through the messaging provider linked with the default link name.
func Publish(m messaging.PubMessage) error {
	b, err := m.Encode()
	if err != nil {
		return err
	}
	_, err = HostCall(DefaultLink, messaging.ContractID, messaging.OpPublish, b)
	return err
}

// Request sends m through the default messaging link and waits for one reply.
func Request(m messaging.RequestMessage) (messaging.ReplyMessage, error) {
	b, err := m.Encode()
	if err != nil {
		return messaging.ReplyMessage{}, err
	}
	resp, err := HostCall(DefaultLink, messaging.ContractID, messaging.OpRequest, b)
	if err != nil {
		return messaging.ReplyMessage{}, err
	}
	return messaging.DecodeReplyMessage(resp)
}
