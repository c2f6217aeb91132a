package output

import (
	"net"
	"syscall"
)

// peerClosed peeks at the socket without blocking: end of stream, an error
// or unread bytes on an idle connection all mean it cannot be used.
func peerClosed(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// EAGAIN: nothing to read, open and quiet. Anything else is an
		// error, the end of the stream (n == 0) or bytes nobody asked for.
		closed = err != syscall.EAGAIN && err != syscall.EINTR
		return true
	})
	return closed || err != nil
}
