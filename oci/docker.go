package oci

import (
	"context"

	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
)

// dockerCredential looks reg up in the docker config (and the credential helpers it names). The
// file is read at each call: it is small, and a `docker login` after the host started counts.
func (c *Client) dockerCredential(ctx context.Context, reg string) (auth.Credential, bool) {
	if c.cfg.DockerConfig == "" {
		return auth.EmptyCredential, false
	}
	store, err := credentials.NewStore(c.cfg.DockerConfig, credentials.StoreOptions{})
	if err != nil {
		c.log.Warn().Err(err).Str("docker_config", c.cfg.DockerConfig).Msg("docker config unreadable; its credentials are not used")
		return auth.EmptyCredential, false
	}
	cred, err := store.Get(ctx, credentials.ServerAddressFromRegistry(reg))
	if err != nil {
		c.log.Warn().Err(err).Str("registry", reg).Msg("docker credentials")
		return auth.EmptyCredential, false
	}
	return cred, cred != auth.EmptyCredential
}
