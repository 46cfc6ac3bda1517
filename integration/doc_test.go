// Package integration holds end-to-end tests of whole lattices: real hosts, real provider
// processes built from cmd/provider-*, real actors built for wasip1, real HTTP, NATS and Redis.
// It has only tests; it is where the components meet, as in cmd.
package integration_test
