package lattice

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"
)

// appendInvocationPayload appends the JSON of the invocationClaims SignJWT would sign for these
// values, byte for byte what json.Marshal writes: fields in struct order, strings escaped as
// encoding/json escapes them; exp when not 0, nbf omitted.
func appendInvocationPayload(dst []byte, cluster *KeyPair, iat, exp int64, id, originURL, targetURL, hash string) ([]byte, error) {
	if exp != 0 {
		dst = append(dst, `{"exp":`...)
		dst = strconv.AppendInt(dst, exp, 10)
		dst = append(dst, `,"jti":"`...)
	} else {
		dst = append(dst, `{"jti":"`...)
	}
	dst, err := appendTokenID(dst)
	if err != nil {
		return dst, err
	}
	dst = append(dst, `","iat":`...)
	dst = strconv.AppendInt(dst, iat, 10)
	dst = append(dst, `,"iss":"`...)
	dst = appendPublicKey(dst, cluster)
	dst = append(dst, `","sub":`...)
	dst = appendJSONString(dst, id)
	dst = append(dst, `,"wascap_revision":`...)
	dst = strconv.AppendInt(dst, WascapRevision, 10)
	dst = append(dst, `,"wascap":{"target_url":`...)
	dst = appendJSONString(dst, targetURL)
	dst = append(dst, `,"origin_url":`...)
	dst = appendJSONString(dst, originURL)
	dst = append(dst, `,"hash":`...)
	dst = appendJSONString(dst, hash)
	return append(dst, `}}`...), nil
}

// appendPublicKey appends k.PublicKey() without allocating.
func appendPublicKey(dst []byte, k *KeyPair) []byte {
	var raw [1 + 32 + 2]byte
	raw[0] = byte(k.prefix)
	copy(raw[1:33], k.pub)
	binary.LittleEndian.PutUint16(raw[33:], crc16(raw[:33]))
	return b32.AppendEncode(dst, raw[:])
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string exactly as encoding/json.Marshal writes it (HTML
// characters escaped, invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped).
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// scanInvocationPayload reads invocation claims from compact JSON: one object with the keys of
// invocationClaims (exactly, each at most once), strings without escapes or control characters
// and in valid UTF-8, integers in int64, nothing after the object. Those are what our signer and
// upstream wascap write, and for them c ends up as json.Unmarshal would leave it. Anything else,
// and a payload without iss or sub, returns false for the general path to decide.
func scanInvocationPayload(p string, c *invocationClaims) bool {
	s := jsonScanner{p: p}
	if !s.next('{') {
		return false
	}
	var seen uint
	for {
		key, ok := s.key()
		if !ok {
			return false
		}
		var bit uint
		switch key {
		case "jti":
			bit = 1 << 0
			c.ID, ok = s.str()
		case "iat":
			bit = 1 << 1
			c.IssuedAt, ok = s.int()
		case "iss":
			bit = 1 << 2
			c.Issuer, ok = s.str()
		case "sub":
			bit = 1 << 3
			c.Subject, ok = s.str()
		case "exp":
			bit = 1 << 4
			c.Expires, ok = s.int()
		case "nbf":
			bit = 1 << 5
			c.NotBefore, ok = s.int()
		case "wascap_revision":
			bit = 1 << 6
			var v int64
			v, ok = s.int()
			c.WascapRevision = int(v)
			ok = ok && int64(c.WascapRevision) == v
		case "wascap":
			bit = 1 << 7
			ok = s.invocation(&c.Invocation)
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		if s.next(',') {
			continue
		}
		if s.next('}') {
			break
		}
		return false
	}
	return s.i == len(p) && c.Issuer != "" && c.Subject != ""
}

// jsonScanner reads the compact JSON subset scanInvocationPayload accepts.
type jsonScanner struct {
	p string
	i int
}

func (s *jsonScanner) next(b byte) bool {
	if s.i < len(s.p) && s.p[s.i] == b {
		s.i++
		return true
	}
	return false
}

// key reads `"name":`.
func (s *jsonScanner) key() (string, bool) {
	k, ok := s.str()
	return k, ok && s.next(':')
}

// str reads a string without escapes and returns its bytes, which is then its value.
func (s *jsonScanner) str() (string, bool) {
	if !s.next('"') {
		return "", false
	}
	start := s.i
	ascii := true
	for ; s.i < len(s.p); s.i++ {
		switch b := s.p[s.i]; {
		case b == '"':
			v := s.p[start:s.i]
			s.i++
			return v, ascii || utf8.ValidString(v)
		case b < 0x20 || b == '\\':
			return "", false
		case b >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// int reads an integer in JSON syntax (no fraction, no exponent) that fits in an int64.
func (s *jsonScanner) int() (int64, bool) {
	start := s.i
	s.next('-')
	digits := s.i
	for s.i < len(s.p) && s.p[s.i] >= '0' && s.p[s.i] <= '9' {
		s.i++
	}
	if s.i == digits || (s.p[digits] == '0' && s.i > digits+1) {
		return 0, false
	}
	v, err := strconv.ParseInt(s.p[start:s.i], 10, 64)
	return v, err == nil
}

// invocation reads the "wascap" object of invocation claims.
func (s *jsonScanner) invocation(m *invocationMetadata) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	var seen uint
	for {
		key, ok := s.key()
		if !ok {
			return false
		}
		var bit uint
		switch key {
		case "target_url":
			bit = 1 << 0
			m.TargetURL, ok = s.str()
		case "origin_url":
			bit = 1 << 1
			m.OriginURL, ok = s.str()
		case "hash":
			bit = 1 << 2
			m.Hash, ok = s.str()
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		if s.next(',') {
			continue
		}
		return s.next('}')
	}
}
