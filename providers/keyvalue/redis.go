package keyvalue

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisStore is the Redis backend of one link.
type redisStore struct {
	c    *redis.Client
	addr string // for messages; never the URL, which may hold a password
}

// newRedis makes a client for url (redis://, rediss:// or unix://). It does not connect: the
// client dials on first use and again after the server comes back.
func newRedis(url string) (*redisStore, error) {
	silenceRedisLog.Do(func() { redis.SetLogger(quiet{}) })
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	opt.ClientName = "trellis-keyvalue"
	// CLIENT SETINFO needs Redis 7.2; older servers answer it with an error on every connection.
	opt.DisableIdentity = true
	return &redisStore{c: redis.NewClient(opt), addr: opt.Addr}, nil
}

// go-redis logs to a process-wide logger (stderr by default), which a library must not do. Every
// failure it logs also comes back from the command that met it, and this package reports those
// (to the actor, and in Health), so its log is silenced.
var silenceRedisLog sync.Once

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// redisErr maps Redis's errors to this package's.
func (r *redisStore) err(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "WRONGTYPE"):
		return fmt.Errorf("%w (redis %s: %s)", ErrWrongType, r.addr, msg)
	case strings.HasPrefix(msg, "ERR value is not an integer"):
		return fmt.Errorf("%w (redis %s: %s)", ErrNotInteger, r.addr, msg)
	}
	return fmt.Errorf("redis %s: %w", r.addr, err)
}

func (r *redisStore) get(ctx context.Context, key string) (string, bool, error) {
	v, err := r.c.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, r.err(err)
	}
	return v, true, nil
}

func (r *redisStore) set(ctx context.Context, key, value string, expires time.Duration) error {
	return r.err(r.c.Set(ctx, key, value, expires).Err())
}

func (r *redisStore) del(ctx context.Context, key string) (bool, error) {
	n, err := r.c.Del(ctx, key).Result()
	return n > 0, r.err(err)
}

func (r *redisStore) contains(ctx context.Context, key string) (bool, error) {
	n, err := r.c.Exists(ctx, key).Result()
	return n > 0, r.err(err)
}

// incrementScript is INCRBY that refuses, without writing, a stored value that is not an integer
// and a result outside int32 (the contract's result type). It answers "NOTINT <value>" or
// "OVERFLOW <value>" errors for those. A value Lua reads as an integer but INCRBY does not
// (a leading zero) still fails in INCRBY, unchanged. Doubles are exact far beyond int32, and a
// stored value too large to be exact is out of range anyway.
var incrementScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
local cur = 0
if v then
  if not string.match(v, '^%-?[0-9]+$') then
    return redis.error_reply('NOTINT ' .. v)
  end
  cur = tonumber(v)
end
local n = cur + tonumber(ARGV[1])
if n > 2147483647 or n < -2147483648 then
  return redis.error_reply('OVERFLOW ' .. v)
end
return redis.call('INCRBY', KEYS[1], ARGV[1])
`)

func (r *redisStore) increment(ctx context.Context, key string, by int32) (int32, error) {
	n, err := incrementScript.Run(ctx, r.c, []string{key}, by).Int64()
	if err != nil {
		msg := err.Error()
		if v, ok := strings.CutPrefix(msg, "NOTINT "); ok {
			return 0, notInteger(key, v)
		}
		if v, ok := strings.CutPrefix(msg, "OVERFLOW "); ok {
			cur, isInt := parseInteger(v)
			if !isInt {
				return 0, notInteger(key, v)
			}
			if _, err := addInt32(key, cur, by); err != nil {
				return 0, err
			}
			return 0, fmt.Errorf("%w: key %q: %s%+d", ErrOverflow, key, v, by)
		}
		return 0, r.err(err)
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, fmt.Errorf("%w: key %q: %d", ErrOverflow, key, n)
	}
	return int32(n), nil
}

// u32 converts a Redis count to the contract's uint32.
func u32(n int64) uint32 {
	if n < 0 {
		return 0
	}
	if n > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(n)
}

func (r *redisStore) listAdd(ctx context.Context, list, value string) (uint32, error) {
	n, err := r.c.RPush(ctx, list, value).Result()
	return u32(n), r.err(err)
}

func (r *redisStore) listDel(ctx context.Context, list, value string) (bool, error) {
	n, err := r.c.LRem(ctx, list, 1, value).Result()
	return n > 0, r.err(err)
}

func (r *redisStore) listRange(ctx context.Context, list string, start, stop int32) ([]string, error) {
	vs, err := r.c.LRange(ctx, list, int64(start), int64(stop)).Result()
	if err != nil {
		return nil, r.err(err)
	}
	if vs == nil {
		vs = []string{}
	}
	return vs, nil
}

func (r *redisStore) setAdd(ctx context.Context, set, value string) (uint32, error) {
	n, err := r.c.SAdd(ctx, set, value).Result()
	return u32(n), r.err(err)
}

func (r *redisStore) setDel(ctx context.Context, set, value string) (uint32, error) {
	n, err := r.c.SRem(ctx, set, value).Result()
	return u32(n), r.err(err)
}

func (r *redisStore) setQuery(ctx context.Context, set string) ([]string, error) {
	vs, err := r.c.SMembers(ctx, set).Result()
	if err != nil {
		return nil, r.err(err)
	}
	return sorted(vs), nil
}

func (r *redisStore) setUnion(ctx context.Context, sets []string) ([]string, error) {
	if len(sets) == 0 {
		return nil, ErrNoSets
	}
	vs, err := r.c.SUnion(ctx, sets...).Result()
	if err != nil {
		return nil, r.err(err)
	}
	return sorted(vs), nil
}

func (r *redisStore) setIntersection(ctx context.Context, sets []string) ([]string, error) {
	if len(sets) == 0 {
		return nil, ErrNoSets
	}
	vs, err := r.c.SInter(ctx, sets...).Result()
	if err != nil {
		return nil, r.err(err)
	}
	return sorted(vs), nil
}

func (r *redisStore) ping(ctx context.Context) error {
	return r.err(r.c.Ping(ctx).Err())
}

func (r *redisStore) close() error {
	if err := r.c.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("close redis %s: %w", r.addr, err)
	}
	return nil
}

var _ store = (*redisStore)(nil)
