package output

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/tinylib/msgp/msgp"
)

var errPeerClosed = errors.New("receiver closed the idle connection")

// aLongTimeAgo is a deadline in the past: it makes blocked I/O return now.
var aLongTimeAgo = time.Unix(1, 0)

// conn is one connection to the receiver.
type conn struct {
	nc net.Conn
	w  *bufio.Writer
	r  *msgp.Reader // acks
}

// dial connects to the endpoint, with the TLS handshake when configured.
func dial(ctx context.Context, ep *endpoint) (*conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, ep.network, ep.addr)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if ep.tls != nil {
		tc := tls.Client(nc, ep.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("TLS handshake: %w", explainTLS(err, ep.caFile))
		}
		nc = tc
	}
	return &conn{nc: nc, w: bufio.NewWriterSize(nc, 64<<10), r: msgp.NewReaderSize(nc, 512)}, nil
}

// explainTLS says which roots refused the server certificate.
func explainTLS(err error, caFile string) error {
	var ua x509.UnknownAuthorityError
	if !errors.As(err, &ua) {
		return err
	}
	if caFile != "" {
		return fmt.Errorf("server certificate not signed by a CA of CA file %s: %w", caFile, err)
	}
	return fmt.Errorf("server certificate not signed by a CA of the system roots (is a CA file needed?): %w", err)
}

// bound makes I/O on c give up at ctx's deadline, or at once when ctx is
// done. The returned stop undoes the latter; once stop returned, nothing
// touches c's deadlines any more.
func (c *conn) bound(ctx context.Context) (stop func()) {
	deadline, _ := ctx.Deadline() // zero: none
	c.nc.SetDeadline(deadline)
	interrupted := make(chan struct{})
	stopFn := context.AfterFunc(ctx, func() {
		c.nc.SetDeadline(aLongTimeAgo)
		close(interrupted)
	})
	return func() {
		if !stopFn() {
			<-interrupted
		}
	}
}

// fail describes an I/O error at a stage. The only deadlines on c are
// ctx's, so an I/O timeout means ctx's deadline passed (the socket's timer
// may fire just before the context's) or ctx was canceled.
func (c *conn) fail(ctx context.Context, stage string, err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if err = ctx.Err(); err == nil {
			err = context.DeadlineExceeded
		}
	}
	return fmt.Errorf("%s: %w", stage, err)
}

// alive reports whether an idle connection is still open: the receiver
// sends nothing unasked, so anything to read (data, EOF, reset) means it is
// gone or confused.
func (c *conn) alive() bool {
	if c.r.Buffered() > 0 {
		return false
	}
	if err := c.nc.SetReadDeadline(time.Time{}); err != nil {
		return false
	}
	nc := c.nc
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	return !peerClosed(nc)
}
