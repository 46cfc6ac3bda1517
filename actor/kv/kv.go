// Package kv is an actor's client for the wasmcloud:keyvalue contract: each call is a host
// call to the key-value provider linked to the actor, by default under the link name
// "default".
//
// Like package actor it runs inside the sandbox and imports only actor, the keyvalue
// contract and the standard library.
package kv

import (
	"github.com/trellis-lattice/trellis/actor"
	"github.com/trellis-lattice/trellis/lattice/contracts/keyvalue"
)

// Client talks to the key-value provider linked under Link.
type Client struct {
	Link string
}

// Default is the client for the "default" link.
var Default = Client{Link: actor.DefaultLink}

// Increment adds n to the number at key and returns the new value.
func Increment(key string, n int32) (int32, error) { return Default.Increment(key, n) }

// Get returns the value at key and whether it exists.
func Get(key string) (string, bool, error) { return Default.Get(key) }

// Set stores value at key; expires is seconds until it is dropped, 0 for never.
func Set(key, value string, expires uint32) error { return Default.Set(key, value, expires) }

// Del deletes key and reports whether it existed.
func Del(key string) (bool, error) { return Default.Del(key) }

// Contains reports whether key exists.
func Contains(key string) (bool, error) { return Default.Contains(key) }

// Increment adds n to the number at key and returns the new value.
func (c Client) Increment(key string, n int32) (int32, error) {
	arg, err := keyvalue.IncrementRequest{Key: key, Value: n}.Encode()
	if err != nil {
		return 0, err
	}
	var v int32
	err = c.call(keyvalue.OpIncrement, arg, &v)
	return v, err
}

// Get returns the value at key and whether it exists.
func (c Client) Get(key string) (string, bool, error) {
	arg, err := keyvalue.Marshal(key)
	if err != nil {
		return "", false, err
	}
	resp, err := actor.HostCall(c.Link, keyvalue.ContractID, keyvalue.OpGet, arg)
	if err != nil {
		return "", false, err
	}
	r, err := keyvalue.DecodeGetResponse(resp)
	if err != nil {
		return "", false, err
	}
	return r.Value, r.Exists, nil
}

// Set stores value at key; expires is seconds until it is dropped, 0 for never.
func (c Client) Set(key, value string, expires uint32) error {
	arg, err := keyvalue.SetRequest{Key: key, Value: value, Expires: expires}.Encode()
	if err != nil {
		return err
	}
	_, err = actor.HostCall(c.Link, keyvalue.ContractID, keyvalue.OpSet, arg)
	return err
}

// Del deletes key and reports whether it existed.
func (c Client) Del(key string) (bool, error) { return c.keyToBool(keyvalue.OpDel, key) }

// Contains reports whether key exists.
func (c Client) Contains(key string) (bool, error) { return c.keyToBool(keyvalue.OpContains, key) }

func (c Client) keyToBool(op, key string) (bool, error) {
	arg, err := keyvalue.Marshal(key)
	if err != nil {
		return false, err
	}
	var ok bool
	err = c.call(op, arg, &ok)
	return ok, err
}

// call invokes op and decodes a bare result into out.
func (c Client) call(op string, arg []byte, out any) error {
	resp, err := actor.HostCall(c.Link, keyvalue.ContractID, op, arg)
	if err != nil {
		return err
	}
	if err := keyvalue.Unmarshal(resp, out); err != nil {
		return &replyError{op: op, err: err}
	}
	return nil
}

// replyError is a reply that did not decode: "op reply: err".
type replyError struct {
	op  string
	err error
}

func (e *replyError) Error() string { return e.op + " reply: " + e.err.Error() }
func (e *replyError) Unwrap() error { return e.err }
