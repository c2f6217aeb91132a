package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
)

// listenFront opens the client-facing listener, with TLS when configured.
func listenFront(cfg config) (net.Listener, error) {
	network, addr := "tcp", cfg.listen
	if path, ok := strings.CutPrefix(addr, "unix://"); ok {
		network, addr = "unix", path
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.listen, err)
	}
	if cfg.tlsCert == "" {
		return l, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("load TLS key pair: %w", err)
	}
	return tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), nil
}

// proxy relays client connections to the collector's socket, cutting them
// at random when asked to.
type proxy struct {
	target string // unix socket path of the collector
	cut    int    // mean bytes between cuts; 0 never
	log    *slog.Logger

	mu  sync.Mutex // guards rng
	rng *rand.Rand

	cuts atomic.Int64
}

func (p *proxy) run(ctx context.Context, l net.Listener) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			p.log.Warn("accept", "err", err)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.relay(ctx, c)
		}()
	}
}

// relay copies bytes both ways until either side closes, ctx is done or
// the cut comes.
func (p *proxy) relay(ctx context.Context, client net.Conn) {
	defer client.Close()
	if tc, ok := client.(*tls.Conn); ok {
		if err := tc.HandshakeContext(ctx); err != nil {
			p.log.Info("TLS handshake failed", "remote", client.RemoteAddr(), "err", err)
			return
		}
	}
	server, err := net.Dial("unix", p.target)
	if err != nil {
		p.log.Warn("dial collector", "err", err)
		return
	}
	defer server.Close()
	stop := context.AfterFunc(ctx, func() { client.Close(); server.Close() })
	defer stop()

	limit := int64(-1)
	if p.cut > 0 {
		p.mu.Lock()
		limit = 1 + p.rng.Int64N(2*int64(p.cut))
		p.mu.Unlock()
	}
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(client, server)
		done <- struct{}{}
	}()
	go func() {
		var src io.Reader = client
		if limit >= 0 {
			src = io.LimitReader(client, limit)
		}
		n, _ := io.Copy(server, src)
		if n == limit {
			p.cuts.Add(1)
		}
		done <- struct{}{}
	}()
	<-done // either direction ended: end both
	client.Close()
	server.Close()
	<-done
}
