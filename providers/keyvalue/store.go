package keyvalue

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// Errors of the key-value operations, for branching with errors.Is. Both backends return them.
var (
	// ErrWrongType: the key holds a string, list or set and the operation wants another kind.
	ErrWrongType = errors.New("key holds the wrong kind of value")
	// ErrNotInteger: Increment on a value that is not a decimal integer.
	ErrNotInteger = errors.New("value is not an integer")
	// ErrOverflow: Increment whose result does not fit in an int32 (the contract's result type).
	ErrOverflow = errors.New("increment result out of int32 range")
	// ErrNoSets: SetUnion or SetIntersection without any set name.
	ErrNoSets = errors.New("no set names")
)

// store is a key-value backend: the in-memory one or Redis. Its methods are those of the
// contract, in Redis's semantics; each is safe for concurrent use.
type store interface {
	get(ctx context.Context, key string) (value string, exists bool, err error)
	set(ctx context.Context, key, value string, expires time.Duration) error
	del(ctx context.Context, key string) (bool, error)
	contains(ctx context.Context, key string) (bool, error)
	increment(ctx context.Context, key string, by int32) (int32, error)
	listAdd(ctx context.Context, list, value string) (uint32, error)
	listDel(ctx context.Context, list, value string) (bool, error)
	listRange(ctx context.Context, list string, start, stop int32) ([]string, error)
	setAdd(ctx context.Context, set, value string) (uint32, error)
	setDel(ctx context.Context, set, value string) (uint32, error)
	setQuery(ctx context.Context, set string) ([]string, error)
	setUnion(ctx context.Context, sets []string) ([]string, error)
	setIntersection(ctx context.Context, sets []string) ([]string, error)
	// ping reports whether the backend can serve requests.
	ping(ctx context.Context) error
	// close releases the backend's resources.
	close() error
}

// parseInteger parses a stored value the way Redis's INCRBY does: an optional minus sign, then
// "0" or digits without a leading zero, fitting in an int64. No spaces, no plus sign.
func parseInteger(s string) (int64, bool) {
	digits := s
	neg := false
	if len(digits) > 0 && digits[0] == '-' {
		neg, digits = true, digits[1:]
	}
	switch {
	case digits == "":
		return 0, false
	case digits == "0":
		return 0, !neg
	case digits[0] < '1' || digits[0] > '9':
		return 0, false
	}
	var u uint64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if u > (math.MaxUint64-9)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true // -(1<<63) wraps to itself, which is right
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// addInt32 adds by to cur and checks that the sum is an int32.
func addInt32(key string, cur int64, by int32) (int32, error) {
	if (by > 0 && cur > math.MaxInt64-int64(by)) || (by < 0 && cur < math.MinInt64-int64(by)) {
		return 0, fmt.Errorf("%w: key %q: %d%+d", ErrOverflow, key, cur, by)
	}
	n := cur + int64(by)
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, fmt.Errorf("%w: key %q: %d%+d = %d", ErrOverflow, key, cur, by, n)
	}
	return int32(n), nil
}

// notInteger is the error of Increment on a value that is not an integer.
func notInteger(key, value string) error {
	const max = 64
	if len(value) > max {
		value = value[:max] + "…"
	}
	return fmt.Errorf("%w: key %q holds %q", ErrNotInteger, key, value)
}

// sorted sorts members in place and returns them, never nil.
func sorted(members []string) []string {
	if members == nil {
		return []string{}
	}
	sort.Strings(members)
	return members
}

// lrange clamps start and stop as Redis's LRANGE does for a list of n elements and returns the
// half-open range [from, to); from == to when the range is empty.
func lrange(n int, start, stop int32) (from, to int) {
	s, e := int(start), int(stop)
	if s < 0 {
		s += n
	}
	if e < 0 {
		e += n
	}
	if s < 0 {
		s = 0
	}
	if s > e || s >= n {
		return 0, 0
	}
	if e >= n {
		e = n - 1
	}
	return s, e + 1
}
