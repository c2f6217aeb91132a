package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/fluentforwardreceiver"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"
)

// dropTornLine cuts f back to its last complete line: a receiver killed
// in the middle of a write (tests kill it, as a crash) leaves part of a
// line that was never acknowledged, so the agent sends its events again,
// and the next receiver on the same file would append to it.
func dropTornLine(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	end := fi.Size()
	buf := make([]byte, 64<<10)
	for end > 0 {
		n := int64(len(buf))
		if n > end {
			n = end
		}
		if _, err := f.ReadAt(buf[:n], end-n); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			end = end - n + int64(i) + 1
			break
		}
		end -= n
	}
	if end == fi.Size() {
		return nil
	}
	return f.Truncate(end)
}

// serve runs the receiver until ctx is done.
func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	out := os.Stdout
	if cfg.out != "-" {
		f, err := os.OpenFile(cfg.out, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("open output: %w", err)
		}
		defer f.Close()
		if err := dropTornLine(f); err != nil {
			return fmt.Errorf("output %s: %w", cfg.out, err)
		}
		out = f
	}
	// The sink and the proxy draw from sources of their own: they run on
	// different goroutines.
	sink := newSink(out, cfg.flap, cfg.dropAcks, rand.New(rand.NewPCG(cfg.seed, 1)))
	p := &proxy{cut: cfg.cut, rng: rand.New(rand.NewPCG(cfg.seed, 2)), log: log}
	defer func() {
		log.Info("stopped", "entries", sink.entries, "refused", sink.refused, "unacked", sink.unacked,
			"cuts", p.cuts.Load())
	}()

	// The collector's address: the requested one, or a private socket
	// behind the front listener.
	collectorAddr := cfg.listen
	var front net.Listener
	if cfg.proxied() {
		dir, err := os.MkdirTemp("", "forwardrecv")
		if err != nil {
			return fmt.Errorf("socket dir: %w", err)
		}
		defer os.RemoveAll(dir)
		collectorAddr = "unix://" + filepath.Join(dir, "collector.sock")
		front, err = listenFront(cfg)
		if err != nil {
			return err
		}
		defer front.Close()
	} else if !strings.HasPrefix(collectorAddr, "unix://") {
		// The collector does not tell which port it took: choose it here.
		addr, err := freeTCPAddr(collectorAddr)
		if err != nil {
			return err
		}
		collectorAddr = addr
	}

	rcv, err := startCollector(ctx, collectorAddr, sink)
	if err != nil {
		return fmt.Errorf("start collector on %s: %w", collectorAddr, err)
	}
	defer rcv.Shutdown(context.Background())

	shown := collectorAddr
	if front != nil {
		shown = listenerAddr(front)
	}
	fmt.Fprintf(os.Stderr, "listening %s\n", shown)
	log.Info("receiver up", "address", shown, "tls", cfg.tlsCert != "", "flap", cfg.flap,
		"drop_acks", cfg.dropAcks, "cut", cfg.cut, "seed", cfg.seed)

	if front == nil {
		<-ctx.Done()
		return nil
	}
	p.target = strings.TrimPrefix(collectorAddr, "unix://")
	return p.run(ctx, front)
}

// startCollector starts the OpenTelemetry fluentforward receiver on addr,
// feeding sink.
func startCollector(ctx context.Context, addr string, sink *sink) (receiver.Logs, error) {
	next, err := consumer.NewLogs(sink.consume)
	if err != nil {
		return nil, err
	}
	factory := fluentforwardreceiver.NewFactory()
	cfg := factory.CreateDefaultConfig().(*fluentforwardreceiver.Config)
	cfg.ListenAddress = addr
	set := receiver.Settings{
		ID: component.NewID(factory.Type()),
		TelemetrySettings: component.TelemetrySettings{
			Logger:         zap.NewNop(),
			TracerProvider: tracenoop.NewTracerProvider(),
			MeterProvider:  metricnoop.NewMeterProvider(),
		},
		BuildInfo: component.NewDefaultBuildInfo(),
	}
	rcv, err := factory.CreateLogs(ctx, set, cfg, next)
	if err != nil {
		return nil, err
	}
	if err := rcv.Start(ctx, host{}); err != nil {
		return nil, err
	}
	return rcv, nil
}

// host is the minimal component.Host the receiver needs.
type host struct{}

func (host) GetExtensions() map[component.ID]component.Component { return nil }

// freeTCPAddr resolves port 0 of addr to a port free at this moment.
func freeTCPAddr(addr string) (string, error) {
	h, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("listen address %q: %w", addr, err)
	}
	if port != "0" {
		return addr, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(h, "0"))
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func listenerAddr(l net.Listener) string {
	if l.Addr().Network() == "unix" {
		return "unix://" + l.Addr().String()
	}
	return l.Addr().String()
}
