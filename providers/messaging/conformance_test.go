package messaging_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	msg "github.com/trellis-lattice/trellis/lattice/contracts/messaging"
	"github.com/trellis-lattice/trellis/providers"
	"github.com/trellis-lattice/trellis/providers/messaging"
	"github.com/trellis-lattice/trellis/providers/providertest"
)

// TestConformance runs the providers' conformance suite. Each link subscribes to a fresh subject;
// the probe checks delivery to a fake actor and a publish from the actor.
func TestConformance(t *testing.T) {
	providertest.Run(t, providertest.Subject{
		New: func(t *testing.T) providers.Provider {
			p, err := messaging.New(messaging.DefaultConfig())
			require.NoError(t, err)
			return p
		},
		Config: providers.DefaultConfig(messaging.ContractID),
		LinkValues: func(*testing.T) map[string]string {
			return map[string]string{"SUBSCRIPTION": "probe." + uuid.NewString()}
		},
		Probe: func(t *testing.T, env providertest.Env) {
			t.Helper()
			subject := env.Link.Values["SUBSCRIPTION"]

			// Delivery: a message on the link's subject reaches the actor.
			got := make(chan msg.SubMessage, 1)
			actorSubject := env.Subjects.Actor(env.ActorID)
			sub, err := env.NATS.QueueSubscribe(actorSubject, actorSubject, func(m *nats.Msg) {
				inv, err := lattice.DecodeInvocation(m.Data)
				resp := &lattice.InvocationResponse{}
				if err == nil {
					resp.InvocationID = inv.ID
					err = inv.Validate(env.HostData.ClusterIssuers, time.Now())
				}
				if err == nil && inv.Operation != msg.OpHandleMessage {
					err = errUnexpected(inv.Operation)
				}
				var sm msg.SubMessage
				if err == nil {
					sm, err = msg.DecodeSubMessage(inv.Msg)
				}
				if err != nil {
					resp.Error = err.Error()
				} else {
					got <- sm
				}
				data, _ := resp.Encode()
				_ = m.Respond(data)
			})
			require.NoError(t, err)
			defer sub.Unsubscribe() //nolint:errcheck
			require.NoError(t, env.NATS.Flush())
			require.NoError(t, env.NATS.Publish(subject, []byte("probe")))
			select {
			case m := <-got:
				require.Equal(t, subject, m.Subject)
				require.Equal(t, "probe", string(m.Body))
			case <-time.After(5 * time.Second):
				t.Fatalf("no delivery of %s to actor %s", subject, env.ActorID)
			}

			// Publish from the actor.
			out, err := env.NATS.SubscribeSync(subject + ".out")
			require.NoError(t, err)
			defer out.Unsubscribe() //nolint:errcheck
			require.NoError(t, env.NATS.Flush())
			pub, err := msg.PubMessage{Subject: subject + ".out", Body: []byte("from actor")}.Encode()
			require.NoError(t, err)
			_, err = env.Call(msg.OpPublish, pub)
			require.NoError(t, err)
			m, err := out.NextMsg(5 * time.Second)
			require.NoError(t, err)
			require.Equal(t, "from actor", string(m.Data))

			_, err = env.Call(msg.OpPublish, []byte{0xc1})
			require.ErrorContains(t, err, "Messaging.Publish: malformed msgpack")
		},
	})
}

type errUnexpected string

func (e errUnexpected) Error() string { return "unexpected operation " + string(e) }
