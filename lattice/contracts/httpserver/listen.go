package httpserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// The listen address of an HTTP-server link (PROTOCOL.md §9). The provider binds where
// ListenAddress says and the Kubernetes applier makes a Service only where ServiceReachable says
// one can reach; both call these functions, so they cannot disagree about a link.

// Link value keys that decide the listen address; keys match case-insensitively.
const (
	ValueAddress    = "address"     // IP:PORT
	ValuePort       = "port"        // a port; binds 127.0.0.1
	ValueConfigJSON = "config_json" // a JSON object whose "address" is IP:PORT
	ValueConfigB64  = "config_b64"  // the same object, base64 (padded or not)
)

// DefaultAddress is where a link without an address listens, as upstream's provider binds.
const DefaultAddress = "127.0.0.1:8000"

// ErrLinkValues is wrapped by every error about malformed link values.
var ErrLinkValues = errors.New("invalid httpserver link settings")

// ErrUnreachable is wrapped by ServiceReachable's errors.
var ErrUnreachable = errors.New("no Kubernetes Service can reach this listener")

// FoldKeys returns values with lowercased keys. Two keys that differ only in case are an error
// naming both, whatever their values: which one a reader would take would depend on map order.
func FoldKeys(values map[string]string) (map[string]string, error) {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]string, len(values))
	orig := make(map[string]string, len(values))
	for _, k := range keys {
		lk := strings.ToLower(k)
		if prev, dup := orig[lk]; dup {
			return nil, fmt.Errorf("%w: keys %q and %q differ only in case", ErrLinkValues, prev, k)
		}
		orig[lk] = k
		out[lk] = values[k]
	}
	return out, nil
}

// ConfigDocument is one JSON settings document of a link: the decoded config_b64 or config_json.
type ConfigDocument struct {
	Key  string // ValueConfigB64 or ValueConfigJSON
	JSON []byte // a JSON object
}

// ConfigDocuments returns the settings documents of folded link values (FoldKeys) in the order
// they apply, later ones overriding earlier ones: config_b64, then config_json. Each must be a
// JSON object (only its first byte is checked here).
func ConfigDocuments(folded map[string]string) ([]ConfigDocument, error) {
	var docs []ConfigDocument
	if v, ok := folded[ValueConfigB64]; ok {
		raw, err := decodeBase64(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: not base64: %v", ErrLinkValues, ValueConfigB64, err)
		}
		docs = append(docs, ConfigDocument{Key: ValueConfigB64, JSON: raw})
	}
	if v, ok := folded[ValueConfigJSON]; ok {
		docs = append(docs, ConfigDocument{Key: ValueConfigJSON, JSON: []byte(v)})
	}
	for i := range docs {
		docs[i].JSON = bytes.TrimSpace(docs[i].JSON)
		if len(docs[i].JSON) == 0 || docs[i].JSON[0] != '{' {
			return nil, fmt.Errorf("%w: %s: want a JSON object", ErrLinkValues, docs[i].Key)
		}
	}
	return docs, nil
}

func decodeBase64(v string) ([]byte, error) {
	v = strings.TrimSpace(v)
	if strings.HasSuffix(v, "=") {
		return base64.StdEncoding.DecodeString(v)
	}
	return base64.RawStdEncoding.DecodeString(v)
}

// ListenAddress decides where an HTTP-server link listens, from its values. Every value present
// must be well formed (an overridden one too), and they apply in upstream's order, later ones
// overriding earlier ones: DefaultAddress, the "address" of config_b64, of config_json, the
// address value (IP:PORT), the port value (binds 127.0.0.1:PORT). An IP is required (no host
// names, as upstream's SocketAddr); port 0 is accepted (the system picks a port). Errors wrap
// ErrLinkValues and name the key.
func ListenAddress(values map[string]string) (netip.AddrPort, error) {
	folded, err := FoldKeys(values)
	if err != nil {
		return netip.AddrPort{}, err
	}
	docs, err := ConfigDocuments(folded)
	if err != nil {
		return netip.AddrPort{}, err
	}
	addr := netip.MustParseAddrPort(DefaultAddress)
	for _, d := range docs {
		var doc struct {
			Address *string `json:"address"`
		}
		if err := json.Unmarshal(d.JSON, &doc); err != nil {
			return netip.AddrPort{}, fmt.Errorf("%w: %s: invalid JSON: %v", ErrLinkValues, d.Key, err)
		}
		if doc.Address != nil {
			if addr, err = ParseAddress(*doc.Address); err != nil {
				return netip.AddrPort{}, fmt.Errorf("%w: %s: address: %v", ErrLinkValues, d.Key, err)
			}
		}
	}
	if v, ok := folded[ValueAddress]; ok {
		if addr, err = ParseAddress(v); err != nil {
			return netip.AddrPort{}, fmt.Errorf("%w: address: %v", ErrLinkValues, err)
		}
	}
	if v, ok := folded[ValuePort]; ok {
		port, err := parsePort(v)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("%w: %v", ErrLinkValues, err)
		}
		addr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port)
	}
	return addr, nil
}

// ParseAddress reads an IP:PORT listen address ("0.0.0.0:8080", "[::]:8080"), surrounding
// spaces ignored. An IPv4-mapped IPv6 address becomes the IPv4 one; zones are refused.
func ParseAddress(v string) (netip.AddrPort, error) {
	s := strings.TrimSpace(v)
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("%q: want IP:PORT such as 0.0.0.0:8080", v)
	}
	host, port := s[:i], s[i+1:]
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	} else if strings.Contains(host, ":") {
		return netip.AddrPort{}, fmt.Errorf("%q: want IP:PORT, with an IPv6 address in brackets", v)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("%q: %q is not an IP address", v, host)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: port %q: want a number from 0 to 65535", v, port)
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(p)), nil
}

func parsePort(v string) (uint16, error) {
	p, err := strconv.ParseUint(strings.TrimSpace(v), 10, 16)
	if err != nil {
		return 0, fmt.Errorf("port %q: want a number from 0 to 65535", v)
	}
	return uint16(p), nil
}

// ServiceReachable says whether a Kubernetes Service can route to a listener on addr in a host
// pod: nil when it can; else an error wrapping ErrUnreachable that says why. A loopback address
// (127.0.0.0/8, ::1, which a `port` value and the default bind) accepts only connections from
// inside the pod; port 0 is a port chosen when the listener opens, which a Service cannot name.
func ServiceReachable(addr netip.AddrPort) error {
	switch {
	case !addr.IsValid():
		return fmt.Errorf("%w: no address", ErrUnreachable)
	case addr.Addr().IsLoopback():
		port := "PORT"
		if addr.Port() != 0 {
			port = strconv.Itoa(int(addr.Port()))
		}
		return fmt.Errorf("%w: %s is a loopback address, reachable only from inside the pod (set address=0.0.0.0:%s)", ErrUnreachable, addr, port)
	case addr.Port() == 0:
		return fmt.Errorf("%w: port 0 is chosen when the listener opens, and a Service must name its port", ErrUnreachable)
	}
	return nil
}
