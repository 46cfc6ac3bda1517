package lattice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"
)

// The commands below return once a host has acked them. The ack says the command was taken, not
// that it worked: that arrives later as an event, so create a Waiter before sending a command whose
// outcome matters. A refusal is a *RefusedError carrying the host's text.

// PutLink asks a host to store a link (linkdefs.put). The link is normalized and validated here
// first, so a bad link fails without a round trip.
func (c *Client) PutLink(ctx context.Context, l LinkDefinition) error {
	l.Values = maps.Clone(l.Values)
	l.Normalize()
	if err := l.Validate(); err != nil {
		return fmt.Errorf("put link: %w", err)
	}
	l.Status = ""
	op := fmt.Sprintf("put link %s -> %s (%s, %s)", l.ActorID, l.ProviderID, l.ContractID, l.LinkName)
	return c.command(ctx, op, c.subj.LinkPut(), "", l)
}

// DeleteLink asks a host to delete the link of a triple (linkdefs.del); an empty link name means
// "default".
func (c *Client) DeleteLink(ctx context.Context, actorID, contractID, linkName string) error {
	d := LinkDelete{ActorID: actorID, ContractID: contractID, LinkName: orDefault(linkName, DefaultLinkName)}
	if d.ActorID == "" || d.ContractID == "" {
		return errors.New("delete link: actor id and contract id are required")
	}
	op := fmt.Sprintf("delete link of %s (%s, %s)", d.ActorID, d.ContractID, d.LinkName)
	return c.command(ctx, op, c.subj.LinkDel(), "", d)
}

// StartActor asks a host to start Count (default 1) instances of the actor at ActorRef.
func (c *Client) StartActor(ctx context.Context, cmd StartActorCommand) error {
	op := "start actor " + cmd.ActorRef
	if err := checkHostID(op, cmd.HostID); err != nil {
		return err
	}
	if cmd.ActorRef == "" {
		return errors.New("start actor: actor_ref is empty")
	}
	if cmd.Count == 0 {
		cmd.Count = 1
	}
	return c.command(ctx, op, c.subj.Command(cmd.HostID, CmdLaunchActor), cmd.HostID, cmd)
}

// StopActor asks a host to stop Count instances (0: all) of the actor ActorRef (its key).
func (c *Client) StopActor(ctx context.Context, cmd StopActorCommand) error {
	op := "stop actor " + cmd.ActorRef
	if err := checkHostID(op, cmd.HostID); err != nil {
		return err
	}
	if cmd.ActorRef == "" {
		return errors.New("stop actor: actor_ref is empty")
	}
	return c.command(ctx, op, c.subj.Command(cmd.HostID, CmdStopActor), cmd.HostID, cmd)
}

// ScaleActor asks a host to run exactly Count instances of an actor.
func (c *Client) ScaleActor(ctx context.Context, cmd ScaleActorCommand) error {
	op := "scale actor " + cmd.ActorID
	if err := checkHostID(op, cmd.HostID); err != nil {
		return err
	}
	if cmd.ActorID == "" {
		return errors.New("scale actor: actor_id is empty")
	}
	return c.command(ctx, op, c.subj.Command(cmd.HostID, CmdScaleActor), cmd.HostID, cmd)
}

// UpdateActor asks a host to replace the module of a running actor with the one at NewActorRef.
// wasmCloud's rule applies: the same key and a strictly higher claims revision (the module already
// running is a no-op). The ack refuses an actor the host does not run; the rest is known after
// the pull, from the host's actor_updated (one per instance) or actor_update_failed event: wait
// for it with a Waiter matching ActorUpdate.
func (c *Client) UpdateActor(ctx context.Context, cmd UpdateActorCommand) error {
	op := "update actor " + cmd.ActorID
	if err := checkHostID(op, cmd.HostID); err != nil {
		return err
	}
	if cmd.ActorID == "" || cmd.NewActorRef == "" {
		return errors.New("update actor: actor_id and new_actor_ref are required")
	}
	return c.command(ctx, op, c.subj.Command(cmd.HostID, CmdUpdateActor), cmd.HostID, cmd)
}

// StartProvider asks a host to start the provider at ProviderRef under LinkName (default
// "default").
func (c *Client) StartProvider(ctx context.Context, cmd StartProviderCommand) error {
	op := "start provider " + cmd.ProviderRef
	if err := checkHostID(op, cmd.HostID); err != nil {
		return err
	}
	if cmd.ProviderRef == "" {
		return errors.New("start provider: provider_ref is empty")
	}
	cmd.LinkName = orDefault(cmd.LinkName, DefaultLinkName)
	return c.command(ctx, op, c.subj.Command(cmd.HostID, CmdLaunchProvider), cmd.HostID, cmd)
}

// StopProvider asks a host to stop the provider ProviderRef (its key) running under LinkName
// (default "default") for ContractID.
func (c *Client) StopProvider(ctx context.Context, cmd StopProviderCommand) error {
	op := "stop provider " + cmd.ProviderRef
	if err := checkHostID(op, cmd.HostID); err != nil {
		return err
	}
	if cmd.ProviderRef == "" {
		return errors.New("stop provider: provider_ref is empty")
	}
	cmd.LinkName = orDefault(cmd.LinkName, DefaultLinkName)
	return c.command(ctx, op, c.subj.Command(cmd.HostID, CmdStopProvider), cmd.HostID, cmd)
}

// StopHost asks a host to shut down, giving it timeout (0: the host's default) to stop what it
// runs.
func (c *Client) StopHost(ctx context.Context, hostID string, timeout time.Duration) error {
	op := "stop host " + hostID
	if err := checkHostID("stop host", hostID); err != nil {
		return err
	}
	if timeout < 0 {
		return fmt.Errorf("%s: timeout %s is negative", op, timeout)
	}
	cmd := StopHostCommand{HostID: hostID, Timeout: uint64(timeout / time.Millisecond)}
	return c.command(ctx, op, c.subj.Command(hostID, CmdStopHost), hostID, cmd)
}

// PutRegistries publishes registry credentials to every host (registries.put). Hosts do not ack
// it; PutRegistries returns once the NATS server has the message. The payload holds secrets: use
// TLS and restricted credentials for the control subjects in production.
func (c *Client) PutRegistries(ctx context.Context, creds RegistryCredentialMap) error {
	subject := c.subj.RegistriesPut()
	if creds == nil {
		creds = RegistryCredentialMap{}
	}
	data, err := json.Marshal(creds)
	if err != nil {
		return fmt.Errorf("put registries: encode: %w", err)
	}
	if err := c.nc.Publish(subject, data); err != nil {
		return fmt.Errorf("put registries: publish on %s: %w", subject, err)
	}
	ctx, cancel, limit := withTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	if err := c.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("put registries: flush %s within %s: %w", subject, limit.Round(time.Millisecond), err)
	}
	return nil
}
