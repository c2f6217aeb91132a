package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// cacheVersion is the first byte of an encoded cache entry.
const cacheVersion = 1

// cacheHeader is the version byte and the expiry (Unix nanoseconds,
// big-endian, 0 for never) before the cached bytes.
const cacheHeader = 1 + 8

// CachePut stores val under key in the named cache (for enrichment results:
// TLS names, WHOIS answers) for ttl; ttl <= 0 keeps it until overwritten.
// It is one write transaction: callers with many entries should batch.
func (s *Store) CachePut(cache, key string, val []byte, ttl time.Duration) error {
	if cache == "" || key == "" {
		return errors.New("cache put: empty cache name or key")
	}
	var exp int64
	if ttl > 0 {
		exp = s.now().Add(ttl).UnixNano()
	}
	v := make([]byte, cacheHeader, cacheHeader+len(val))
	v[0] = cacheVersion
	binary.BigEndian.PutUint64(v[1:], uint64(exp))
	v = append(v, val...)
	err := s.update(func(tx *bolt.Tx) error {
		root, err := bucket(tx, bucketCache)
		if err != nil {
			return err
		}
		b, err := root.CreateBucketIfNotExists([]byte(cache))
		if err != nil {
			return err
		}
		return b.Put([]byte(key), v)
	})
	if err != nil {
		return fmt.Errorf("cache put %s %q: %w", cache, key, err)
	}
	return nil
}

// CacheGet returns a copy of the value stored under key in the named cache
// and when it expires (the zero Time for never). ok is false when there is
// no entry or it has expired.
func (s *Store) CacheGet(cache, key string) (val []byte, expires time.Time, ok bool, err error) {
	err = s.CacheGetEach(cache, []string{key}, func(_ int, v []byte, exp time.Time) {
		val, expires, ok = slices.Clone(v), exp, true
	})
	if err != nil {
		return nil, time.Time{}, false, fmt.Errorf("cache get %s %q: %w", cache, key, err)
	}
	return val, expires, ok, nil
}

func cacheExpiry(v []byte) (int64, error) {
	if len(v) < cacheHeader || v[0] != cacheVersion {
		return 0, errors.New("unknown cache record version or short record")
	}
	return int64(binary.BigEndian.Uint64(v[1:])), nil
}

// CacheGetEach looks keys up in the named cache in one read transaction
// (a caller with many keys saves a transaction per key): fn is called for
// each key found and not expired, with its index in keys and the value,
// valid only during the call.
func (s *Store) CacheGetEach(cache string, keys []string, fn func(i int, val []byte, expires time.Time)) error {
	if len(keys) == 0 {
		return nil
	}
	now := s.now().UnixNano()
	err := s.db.View(func(tx *bolt.Tx) error {
		root, err := bucket(tx, bucketCache)
		if err != nil {
			return err
		}
		b := root.Bucket([]byte(cache))
		if b == nil {
			return nil
		}
		for i, k := range keys {
			v := b.Get([]byte(k))
			if v == nil {
				continue
			}
			exp, err := cacheExpiry(v)
			if err != nil || (exp != 0 && exp <= now) {
				continue // damaged (the sweep removes it) or expired
			}
			fn(i, v[cacheHeader:], fromUnixNano(exp))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cache get %s (%d keys): %w", cache, len(keys), err)
	}
	return nil
}
