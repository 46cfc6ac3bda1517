package lattice

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base32"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// KeyPrefix is the first character of an encoded public key. It says what the key identifies.
type KeyPrefix byte

// Key prefixes of the lattice (PROTOCOL.md §1). The value is the prefix byte before base32.
const (
	PrefixAccount  KeyPrefix = 0 << 3  // A
	PrefixCluster  KeyPrefix = 2 << 3  // C
	PrefixModule   KeyPrefix = 12 << 3 // M: actors
	PrefixServer   KeyPrefix = 13 << 3 // N: hosts
	PrefixOperator KeyPrefix = 14 << 3 // O
	PrefixUser     KeyPrefix = 20 << 3 // U
	PrefixService  KeyPrefix = 21 << 3 // V: capability providers
	prefixSeed     byte      = 18 << 3 // S
)

// Letter returns the key's first character, such as 'M'.
func (p KeyPrefix) Letter() byte { return "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[byte(p)>>3] }

// String names the kind of key ("account", "module", …).
func (p KeyPrefix) String() string {
	switch p {
	case PrefixAccount:
		return "account"
	case PrefixCluster:
		return "cluster"
	case PrefixModule:
		return "module"
	case PrefixServer:
		return "server"
	case PrefixOperator:
		return "operator"
	case PrefixUser:
		return "user"
	case PrefixService:
		return "service"
	}
	return fmt.Sprintf("prefix(%d)", byte(p))
}

// ParseKeyPrefix maps a key kind name (account, cluster, module, server, operator, user, service,
// or the aliases actor, host, provider) to its prefix.
func ParseKeyPrefix(kind string) (KeyPrefix, error) {
	switch strings.ToLower(kind) {
	case "account":
		return PrefixAccount, nil
	case "cluster":
		return PrefixCluster, nil
	case "module", "actor":
		return PrefixModule, nil
	case "server", "host":
		return PrefixServer, nil
	case "operator":
		return PrefixOperator, nil
	case "user":
		return PrefixUser, nil
	case "service", "provider":
		return PrefixService, nil
	}
	return 0, fmt.Errorf("unknown key kind %q (want account, cluster, module, server, operator, user or service)", kind)
}

func validPrefix(p KeyPrefix) bool {
	switch p {
	case PrefixAccount, PrefixCluster, PrefixModule, PrefixServer, PrefixOperator, PrefixUser, PrefixService:
		return true
	}
	return false
}

// Key errors, for branching with errors.Is.
var (
	ErrInvalidKey   = errors.New("invalid key")
	ErrInvalidSeed  = errors.New("invalid seed")
	ErrWrongKeyKind = errors.New("wrong key kind")
	ErrBadSignature = errors.New("signature verification failed")
	ErrNoPrivateKey = errors.New("key pair has no private key")
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// KeyPair is an ed25519 key of one kind. A pair made from a public key can only verify.
type KeyPair struct {
	prefix KeyPrefix
	pub    ed25519.PublicKey
	priv   ed25519.PrivateKey // nil when only the public key is known
}

// CreateKeyPair makes a new random key of the given kind.
func CreateKeyPair(p KeyPrefix) (*KeyPair, error) {
	if !validPrefix(p) {
		return nil, fmt.Errorf("create key: %w: %v", ErrWrongKeyKind, p)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("create key: %w", err)
	}
	return &KeyPair{prefix: p, pub: pub, priv: priv}, nil
}

// KeyPairFromSeed decodes a seed (`S` + kind letter, 58 characters).
func KeyPairFromSeed(seed string) (*KeyPair, error) {
	raw, err := decodeChecked(strings.TrimSpace(seed))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSeed, err)
	}
	if len(raw) != 2+ed25519.SeedSize {
		return nil, fmt.Errorf("%w: length %d", ErrInvalidSeed, len(raw))
	}
	b1 := raw[0] & 248
	if b1 != prefixSeed {
		return nil, fmt.Errorf("%w: does not start with S", ErrInvalidSeed)
	}
	p := KeyPrefix((raw[0]&7)<<5 | (raw[1]&248)>>3)
	if !validPrefix(p) {
		return nil, fmt.Errorf("%w: unknown kind", ErrInvalidSeed)
	}
	priv := ed25519.NewKeyFromSeed(raw[2:])
	return &KeyPair{prefix: p, pub: priv.Public().(ed25519.PublicKey), priv: priv}, nil
}

// KeyPairFromPEM reads a PEM "PRIVATE KEY" block holding a PKCS#8 ed25519 key (what Helm's
// genPrivateKey "ed25519" and `openssl genpkey -algorithm ed25519` write) as a key of kind: the
// key's 32-byte seed is the nkey seed, so the result's Seed is the same key as an S… seed.
func KeyPairFromPEM(kind KeyPrefix, data []byte) (*KeyPair, error) {
	if !validPrefix(kind) {
		return nil, fmt.Errorf("%w: unknown kind", ErrInvalidSeed)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: no PEM PRIVATE KEY block", ErrInvalidSeed)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: PEM private key: %v", ErrInvalidSeed, err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: PEM private key is a %T, want ed25519", ErrInvalidSeed, key)
	}
	return &KeyPair{prefix: kind, pub: priv.Public().(ed25519.PublicKey), priv: priv}, nil
}

// IsPEM reports whether s looks like PEM text rather than an S… seed.
func IsPEM(s string) bool { return strings.HasPrefix(strings.TrimSpace(s), "-----BEGIN ") }

// keyPairFromPublicKey decodes a public key; the pair can verify but not sign.
func keyPairFromPublicKey(public string) (*KeyPair, error) {
	p, pub, err := decodePublicKey(public)
	if err != nil {
		return nil, err
	}
	return &KeyPair{prefix: p, pub: pub}, nil
}

// decodePublicKey checks an encoded public key and returns its kind and raw bytes.
func decodePublicKey(public string) (KeyPrefix, ed25519.PublicKey, error) {
	raw, err := decodeChecked(public)
	if err != nil {
		return 0, nil, fmt.Errorf("%w %q: %v", ErrInvalidKey, short(public), err)
	}
	if len(raw) != 1+ed25519.PublicKeySize {
		return 0, nil, fmt.Errorf("%w %q: length %d", ErrInvalidKey, short(public), len(raw))
	}
	p := KeyPrefix(raw[0])
	if !validPrefix(p) {
		return 0, nil, fmt.Errorf("%w %q: unknown prefix", ErrInvalidKey, short(public))
	}
	return p, ed25519.PublicKey(raw[1:]), nil
}

// IsValidPublicKey reports whether s is a well-formed public key of kind p.
func IsValidPublicKey(p KeyPrefix, s string) bool {
	got, _, err := decodePublicKey(s)
	return err == nil && got == p
}

// CheckPublicKey returns an error naming what is wrong when s is not a public key of kind p.
func CheckPublicKey(p KeyPrefix, s string) error {
	got, _, err := decodePublicKey(s)
	if err != nil {
		return err
	}
	if got != p {
		return fmt.Errorf("%w: %s is a %s key, want a %s key (%c…)", ErrWrongKeyKind, short(s), got, p, p.Letter())
	}
	return nil
}

// Prefix returns the key's kind.
func (k *KeyPair) Prefix() KeyPrefix { return k.prefix }

// PublicKey returns the 56-character encoded public key.
func (k *KeyPair) PublicKey() string {
	raw := make([]byte, 0, 1+len(k.pub)+2)
	raw = append(raw, byte(k.prefix))
	raw = append(raw, k.pub...)
	return encodeChecked(raw)
}

// Seed returns the 58-character encoded seed.
func (k *KeyPair) Seed() (string, error) {
	if k.priv == nil {
		return "", ErrNoPrivateKey
	}
	raw := make([]byte, 0, 2+ed25519.SeedSize+2)
	raw = append(raw, prefixSeed|byte(k.prefix)>>5, (byte(k.prefix)&31)<<3)
	raw = append(raw, k.priv.Seed()...)
	return encodeChecked(raw), nil
}

// Sign signs data with the private key.
func (k *KeyPair) Sign(data []byte) ([]byte, error) {
	if k.priv == nil {
		return nil, ErrNoPrivateKey
	}
	return ed25519.Sign(k.priv, data), nil
}

// Verify checks a signature made by this key.
func (k *KeyPair) Verify(data, sig []byte) error {
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(k.pub, data, sig) {
		return ErrBadSignature
	}
	return nil
}

// HasPrivateKey reports whether the pair can sign.
func (k *KeyPair) HasPrivateKey() bool { return k.priv != nil }

func encodeChecked(raw []byte) string {
	raw = binary.LittleEndian.AppendUint16(raw, crc16(raw))
	return b32.EncodeToString(raw)
}

func decodeChecked(s string) ([]byte, error) {
	raw, err := b32.DecodeString(s)
	if err != nil {
		return nil, errors.New("not base32")
	}
	if len(raw) < 4 {
		return nil, errors.New("too short")
	}
	body, sum := raw[:len(raw)-2], binary.LittleEndian.Uint16(raw[len(raw)-2:])
	if crc16(body) != sum {
		return nil, errors.New("checksum mismatch")
	}
	return body, nil
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021), the checksum nkeys uses.
func crc16(data []byte) uint16 {
	var crc uint16
	for _, b := range data {
		crc ^= uint16(b) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// short shortens a possibly long input for error messages.
func short(s string) string {
	if len(s) > 64 {
		return s[:61] + "..."
	}
	return s
}
