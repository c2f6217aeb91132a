package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/socx/sharkfin/internal/codec"
	bolt "go.etcd.io/bbolt"
)

// checkpointVersion is the first byte of an encoded checkpoint.
const checkpointVersion = 1

// Checkpoint is how far the agent has consumed one followed file. A file is
// identified by (Dev, Ino, Input): rotation renames keep the checkpoint,
// a new file under the old name gets a new one. Fingerprint guards against
// inode reuse: the tailer compares it with the file before trusting Offset.
type Checkpoint struct {
	// Path is where the file was last seen; informational.
	Path string
	// Dev and Ino are the device and inode numbers of the file.
	Dev, Ino uint64
	// Fingerprint is a hash of the first FingerprintLen bytes of the file,
	// 0 while the file is shorter than the fingerprint needs.
	Fingerprint    uint64
	FingerprintLen int
	// Offset is the byte offset after the last line consumed.
	Offset int64
	// Input is the name of the config input that follows the file.
	Input string
	// Updated is when the checkpoint was last advanced.
	Updated time.Time
}

// checkpointKey appends the key of c: Dev and Ino as 8 big-endian bytes
// each, then the input name.
func checkpointKey(dst []byte, c *Checkpoint) []byte {
	dst = be64(dst, c.Dev)
	dst = be64(dst, c.Ino)
	return append(dst, c.Input...)
}

// appendCheckpoint appends the value of c (layout in doc.go).
func appendCheckpoint(dst []byte, c *Checkpoint) ([]byte, error) {
	if c.Offset < 0 || c.FingerprintLen < 0 {
		return dst, fmt.Errorf("checkpoint %s: negative offset %d or fingerprint length %d", c.Path, c.Offset, c.FingerprintLen)
	}
	dst = append(dst, checkpointVersion)
	dst = be64(dst, c.Fingerprint)
	dst = binary.AppendUvarint(dst, uint64(c.FingerprintLen))
	dst = binary.AppendUvarint(dst, uint64(c.Offset))
	dst = binary.AppendVarint(dst, unixNano(c.Updated))
	dst = binary.AppendUvarint(dst, uint64(len(c.Path)))
	return append(dst, c.Path...), nil
}

// decodeCheckpoint is the inverse of checkpointKey and appendCheckpoint.
func decodeCheckpoint(key, val []byte) (Checkpoint, error) {
	var c Checkpoint
	if len(key) < 16 {
		return c, fmt.Errorf("checkpoint key of %d bytes", len(key))
	}
	c.Dev = binary.BigEndian.Uint64(key)
	c.Ino = binary.BigEndian.Uint64(key[8:])
	c.Input = string(key[16:])
	if len(val) < 9 || val[0] != checkpointVersion {
		return c, fmt.Errorf("checkpoint %d:%d: unknown record version or short record", c.Dev, c.Ino)
	}
	c.Fingerprint = binary.BigEndian.Uint64(val[1:])
	d := codec.NewReader(val[9:], errShort)
	c.FingerprintLen = int(d.Uvarint())
	c.Offset = int64(d.Uvarint())
	c.Updated = fromUnixNano(d.Varint())
	c.Path = string(d.Bytes())
	if d.Err() != nil || c.Offset < 0 || c.FingerprintLen < 0 {
		return c, fmt.Errorf("checkpoint %d:%d: damaged record", c.Dev, c.Ino)
	}
	return c, nil
}

// errShort is the error of a state record that ends early.
var errShort = errors.New("record ends early")

// Checkpoints returns every stored checkpoint, ordered by (Dev, Ino,
// Input), and what was wrong with each damaged one, skipped: the file it
// stood for is read as a new one (the input's start_at), as if it had no
// checkpoint, instead of the agent refusing to start on one bad record.
// DropDamagedCheckpoints removes them.
func (s *Store) Checkpoints() (cks []Checkpoint, damaged []error, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketCheckpoints)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			c, err := decodeCheckpoint(k, v)
			if err != nil {
				if c.Input != "" {
					err = fmt.Errorf("input %q: %w", c.Input, err)
				}
				damaged = append(damaged, err)
				return nil
			}
			cks = append(cks, c)
			return nil
		})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read checkpoints: %w", err)
	}
	return cks, damaged, nil
}

// DropDamagedCheckpoints removes the checkpoint records that do not
// decode (those Checkpoints skips): a damaged key, or the record of a file
// or input gone, would otherwise never be rewritten, and be reported at
// every start. It returns how many it removed.
func (s *Store) DropDamagedCheckpoints() (int, error) {
	var bad [][]byte
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketCheckpoints)
		if err != nil {
			return err
		}
		if err := b.ForEach(func(k, v []byte) error {
			if _, err := decodeCheckpoint(k, v); err != nil {
				bad = append(bad, bytes.Clone(k))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range bad {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("drop damaged checkpoints: %w", err)
	}
	return len(bad), nil
}

// unixNano encodes t, with the zero Time as 0.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromUnixNano is the inverse of unixNano; times come back in UTC.
func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
