package format_test

import (
	"fmt"
	"time"

	"github.com/socx/sharkfin/record"
	"github.com/socx/sharkfin/tailer/format"
)

func ExampleParser_Parse() {
	p := format.Parser{Format: format.Combined}
	var r record.Record // reused for every line
	line := []byte(`203.0.113.9 - - [17/May/2015:10:05:03 +0000] "GET /wp-login.php HTTP/1.1" 404 292 "-" "curl/8.0"`)
	if err := p.Parse(line, &r); err != nil {
		fmt.Println("rejected:", format.Reason(err))
		return
	}
	fmt.Println(time.Unix(0, r.Time).UTC(), string(r.Client), string(r.Method), string(r.Target), r.Status, string(r.UserAgent))

	err := p.Parse([]byte(`- - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 1`), &r)
	fmt.Println("rejected:", format.Reason(err))
	// Output:
	// 2015-05-17 10:05:03 +0000 UTC 203.0.113.9 GET /wp-login.php 404 curl/8.0
	// rejected: bad_client
}

func ExampleSniff() {
	lines := [][]byte{
		[]byte("7-Jul-2022 16:34:13.003 queries: info: client @0x55 192.0.2.2#80 (example.net): query: example.net IN ANY +E(0) (198.51.100.44)"),
		[]byte("07-Jul-2022 16:34:13.008 queries: info: client @0x56 192.0.2.3#5300 (example.org): query: example.org IN A +E(0)D (198.51.100.44)"),
	}
	f, err := format.Sniff(lines)
	fmt.Println(f, f.Kind(), err)
	// Output: bind dns <nil>
}
