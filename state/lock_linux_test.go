package state

import "testing"

func TestParseProcLocks(t *testing.T) {
	const text = `1: POSIX  ADVISORY  WRITE 900 fd:01:1319366 0 EOF
2: FLOCK  ADVISORY  WRITE 1234 fd:01:1319366 0 EOF
2: -> FLOCK  ADVISORY  WRITE 77 fd:01:1319366 0 EOF
3: FLOCK  ADVISORY  WRITE 555 08:02:42 0 EOF
4: FLOCK  ADVISORY  READ 777 103:05:42 0 EOF
`
	dev := func(major, minor uint64) uint64 { // glibc makedev
		return (minor & 0xff) | (major&0xfff)<<8 | (minor&^0xff)<<12 | (major&^0xfff)<<32
	}
	tests := []struct {
		dev, ino uint64
		self     int
		want     int
	}{
		{dev(0xfd, 1), 1319366, 1, 1234},
		{dev(0xfd, 1), 1319366, 1234, 0}, // our own lock
		{dev(8, 2), 42, 1, 555},
		{dev(0x103, 5), 42, 1, 777},
		{dev(8, 3), 42, 1, 0},
		{dev(8, 2), 43, 1, 0},
	}
	for _, tt := range tests {
		if got := parseProcLocks([]byte(text), tt.dev, tt.ino, tt.self); got != tt.want {
			t.Errorf("parseProcLocks(dev %x, ino %d) = %d, want %d", tt.dev, tt.ino, got, tt.want)
		}
	}
}
