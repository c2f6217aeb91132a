// Command forwardrecv is a Fluentd forward-protocol receiver for sharkfin's
// tests. It embeds the OpenTelemetry Collector's fluentforward receiver, an
// independent implementation that acknowledges a `chunk` only after its
// consumer accepted the entries, and writes every decoded entry as one JSON
// line:
//
//	{"tag":"sharkfin.web.ip_score","time_ns":1700000060123456789,"record":{...}}
//
// In the record, integers are written without a fraction and floats always
// with one ("2.0", "1e+20"), so a reader can tell the msgpack types apart.
// The collector carries a record's "message" key in the log body; it is
// written back as "message".
//
// Usage:
//
//	forwardrecv [-listen 127.0.0.1:0|unix:///path] [-out FILE]
//	            [-tls-cert FILE -tls-key FILE]
//	            [-flap N] [-drop-acks F] [-cut N] [-seed S]
//
// Once listening it prints "listening ADDR" on standard error, ADDR being the
// chosen host:port or unix:///path. SIGINT or SIGTERM stops it cleanly; tests
// may also SIGKILL it and start a new one on the same address.
//
// Faults, all drawn from one random source seeded by -seed:
//   - -flap N refuses a chunk at random, on average once every N entries:
//     nothing of it is written, no ack is sent and the connection is closed.
//   - -drop-acks F writes a fraction F of the chunks but withholds their ack
//     and closes the connection, as a receiver that crashes after storing
//     would; the client re-sends them, producing duplicates.
//   - -cut N cuts client connections mid-stream at random, on average once
//     every N bytes received (a front proxy relays the bytes).
//
// Without TLS and -cut the collector listens on the address itself;
// otherwise a front listener terminates TLS, injects cuts and relays the
// bytes to the collector on a private unix socket.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run())
}

func run() int {
	var cfg config
	fs := flag.NewFlagSet("forwardrecv", flag.ContinueOnError)
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:0", "host:port or unix:///path to listen on")
	fs.StringVar(&cfg.out, "out", "-", "file to append JSON lines to (- for standard output)")
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "PEM certificate: serve TLS")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "PEM private key of -tls-cert")
	fs.IntVar(&cfg.flap, "flap", 0, "refuse a chunk and close the connection on average every N entries (0: never)")
	fs.Float64Var(&cfg.dropAcks, "drop-acks", 0, "fraction of chunks stored but not acknowledged")
	fs.IntVar(&cfg.cut, "cut", 0, "cut client connections on average every N bytes received (0: never)")
	fs.Uint64Var(&cfg.seed, "seed", 1, "seed of the fault injection")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(os.Stderr, "forwardrecv: %v\n", err)
		return 2
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := serve(ctx, cfg, log); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "forwardrecv: %v\n", err)
		return 1
	}
	return 0
}

type config struct {
	listen   string
	out      string
	tlsCert  string
	tlsKey   string
	flap     int
	dropAcks float64
	cut      int
	seed     uint64
}

func (c config) validate() error {
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return errors.New("-tls-cert and -tls-key go together")
	}
	if c.flap < 0 || c.cut < 0 {
		return errors.New("-flap and -cut must not be negative")
	}
	if c.dropAcks < 0 || c.dropAcks > 1 {
		return fmt.Errorf("-drop-acks %v: want a fraction in [0, 1]", c.dropAcks)
	}
	return nil
}

// proxied reports whether a front listener sits before the collector.
func (c config) proxied() bool { return c.tlsCert != "" || c.cut > 0 }
