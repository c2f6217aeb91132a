package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/record"
	"github.com/socx/sharkfin/tailer"
	"github.com/socx/sharkfin/tailer/format"
)

const etc = "/etc/sharkfin/sharkfin.yaml"

func TestParse_Defaults(t *testing.T) {
	c := mustParse(t, topDoc())
	host, _ := os.Hostname()
	in := c.Inputs[0]
	for _, tc := range []struct {
		key       string
		got, want any
	}{
		{"host", c.Host, host},
		{"log.level", c.Log.Level, LogInfo},
		{"log.format", c.Log.Format, LogText},
		{"inputs[0].exclude", len(in.Exclude), 0},
		{"inputs[0].start_at", in.StartAt, StartAtEnd},
		{"inputs[0].poll", in.Poll, false},
		{"inputs[0].poll_interval", in.PollInterval.Std(), 250 * time.Millisecond},
		{"inputs[0].rescan_interval", in.RescanInterval.Std(), 10 * time.Second},
		{"inputs[0].rotate_wait", in.RotateWait.Std(), 5 * time.Second},
		{"inputs[0].timezone", in.Timezone.Location(), time.Local},
		{"inputs[0].max_line_bytes", in.MaxLineBytes, ByteSize(1 << 20)},
		{"state.path", c.State.Path, "/var/lib/sharkfin/state.db"},
		{"state.retention", c.State.Retention.Std(), 24 * time.Hour},
		{"state.flush_interval", c.State.FlushInterval.Std(), time.Second},
		{"state.flush_lines", c.State.FlushLines, 100000},
		{"state.lock_timeout", c.State.LockTimeout.Std(), time.Second},
		{"detect.window", c.Detect.Window.Std(), 60 * time.Second},
		{"detect.lateness", c.Detect.Lateness.Std(), 5 * time.Second},
		{"detect.max_keys", c.Detect.MaxKeys, 100000},
		{"detect.close_batch", c.Detect.CloseBatch, 4096},
		{"detect.trusted_keys", len(c.Detect.TrustedKeys), 0},
		{"detect.emit", c.Detect.Emit, EmitAll},
		{"detect.domains.categories", c.Detect.Domains.Categories, ""},
		{"detect.domains.enrich.tls", c.Detect.Domains.Enrich.TLS, false},
		{"detect.domains.enrich.whois", c.Detect.Domains.Enrich.WHOIS, false},
		{"output.stdout", c.Output.Stdout != nil, true},
		{"output.fluentd", c.Output.Fluentd == nil, true},
		{"metrics.listen", c.Metrics.Listen, "127.0.0.1:9808"},
		{"path", c.Path, etc},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.key, tc.got, tc.want)
		}
	}

	f := mustParse(t, topDoc("output: {fluentd: {}}")).Output.Fluentd
	if f == nil {
		t.Fatal("output.fluentd: {} gave no fluentd output")
	}
	for _, tc := range []struct {
		key       string
		got, want any
	}{
		{"address", f.Address, "127.0.0.1:24224"},
		{"tls", f.TLS, false},
		{"ca_file", f.CAFile, ""},
		{"insecure_skip_verify", f.InsecureSkipVerify, false},
		{"tag_prefix", f.TagPrefix, "sharkfin"},
		{"outbox_max", f.OutboxMax, 256 * MiB},
		{"timeout", f.Timeout.Std(), 10 * time.Second},
	} {
		if tc.got != tc.want {
			t.Errorf("output.fluentd.%s = %v, want %v", tc.key, tc.got, tc.want)
		}
	}
}

// A key the file sets keeps its value, zeros included, and a key with no
// value keeps its default.
func TestParse_ExplicitValues(t *testing.T) {
	c := mustParse(t, doc(
		`host: ""`,
		"inputs:",
		"  - name: dns",
		"    paths: [/var/log/named/q.log, /var/log/named/q2.log]",
		"    format: bind",
		"    rotate_wait: 0s",
		"    timezone: Europe/Paris",
		"    poll_interval:",
		"    start_at: beginning",
		"    max_line_bytes: 4096",
		"detect: {lateness: 0s, window: 5m, emit: anomalies, models: {dns: /m/dns.json}}",
		"state: {retention: 7d}",
		`metrics: {listen: ""}`,
		"output: {fluentd: {address: 'unix:///run/fluent.sock', timeout: 1500ms, outbox_max: 1GiB}}",
	))
	host, _ := os.Hostname()
	in := c.Inputs[0]
	paris, _ := time.LoadLocation("Europe/Paris")
	for _, tc := range []struct {
		key       string
		got, want any
	}{
		{"host", c.Host, host},
		{"inputs[0].paths", strings.Join(in.Globs(), ","), "/var/log/named/q.log,/var/log/named/q2.log"},
		{"inputs[0].rotate_wait", in.RotateWait, Duration(0)},
		{"inputs[0].timezone", in.Timezone.Location().String(), paris.String()},
		{"inputs[0].poll_interval", in.PollInterval, DefaultPollInterval},
		{"inputs[0].start_at", in.StartAt, StartAtBeginning},
		{"inputs[0].max_line_bytes", in.MaxLineBytes, ByteSize(4096)},
		{"inputs[0] kind", in.Kind(), record.KindDNS},
		{"detect.lateness", c.Detect.Lateness, Duration(0)},
		{"detect.window", c.Detect.Window.Std(), 5 * time.Minute},
		{"detect.emit", c.Detect.Emit, EmitAnomalies},
		{"detect.max_keys", c.Detect.MaxKeys, DefaultMaxKeys},
		{"model of dns", c.Detect.Model(record.KindDNS), "/m/dns.json"},
		{"state.retention", c.State.Retention.Std(), 7 * 24 * time.Hour},
		{"metrics.listen", c.Metrics.Listen, ""},
		{"output.stdout", c.Output.Stdout == nil, true},
		{"output.fluentd.address", c.Output.Fluentd.Address, "unix:///run/fluent.sock"},
		{"output.fluentd.timeout", c.Output.Fluentd.Timeout.Std(), 1500 * time.Millisecond},
		{"output.fluentd.outbox_max", c.Output.Fluentd.OutboxMax, GiB},
		{"output.fluentd.tag_prefix", c.Output.Fluentd.TagPrefix, DefaultTagPrefix},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.key, tc.got, tc.want)
		}
	}
}

func TestParse_InvalidValues(t *testing.T) {
	for _, tc := range []struct {
		name  string
		data  []byte
		line  int
		path  string
		words []string
	}{
		{"start_at", inputDoc("start_at: middle"), 4, "inputs[0].start_at", []string{`"middle" is not valid; use "end" or "beginning"`}},
		{"start_at empty", inputDoc(`start_at: ""`), 4, "inputs[0].start_at", []string{`use "end" or "beginning"`}},
		{"format auto", inputDoc("format: auto"), 4, "inputs[0].format", []string{"auto", `"squid", "common", "combined" or "bind"`}},
		{"format unknown", inputDoc("format: apache"), 4, "inputs[0].format", []string{"apache", `"combined"`}},
		{"format missing", doc(allModels, "inputs:", "  - name: web", "    path: /a.log"), 3, "inputs[0].format", []string{"missing", "combined"}},
		{"poll", inputDoc("poll: maybe"), 4, "inputs[0].poll", []string{"true or false"}},
		{"poll_interval no unit", inputDoc("poll_interval: 1"), 4, "inputs[0].poll_interval", []string{"no unit", `"1s"`}},
		{"poll_interval short", inputDoc("poll_interval: 1ms"), 4, "inputs[0].poll_interval", []string{"at least 10ms"}},
		{"poll_interval list", inputDoc("poll_interval: [1s]"), 4, "inputs[0].poll_interval", []string{"is a list; want a single value"}},
		{"rescan_interval long", inputDoc("rescan_interval: 2h"), 4, "inputs[0].rescan_interval", []string{"at most 1h"}},
		{"rotate_wait negative", inputDoc("rotate_wait: -1s"), 4, "inputs[0].rotate_wait", []string{"negative"}},
		{"timezone", inputDoc("timezone: Mars/Olympus_Mons"), 4, "inputs[0].timezone", []string{"Mars/Olympus_Mons", "IANA"}},
		{"max_line_bytes unit", inputDoc("max_line_bytes: 12XB"), 4, "inputs[0].max_line_bytes", []string{"unknown unit", "MiB"}},
		{"max_line_bytes small", inputDoc("max_line_bytes: 100"), 4, "inputs[0].max_line_bytes", []string{"at least 1KiB"}},
		{"max_line_bytes large", inputDoc("max_line_bytes: 1GiB"), 4, "inputs[0].max_line_bytes", []string{"at most 64MiB"}},
		{"exclude pattern", inputDoc(`exclude: ["[a"]`), 4, "inputs[0].exclude[0]", []string{"filepath.Match"}},
		{"exclude scalar", inputDoc(`exclude: "*.gz"`), 4, "inputs[0].exclude", []string{"want a list"}},
		{"path glob", inputDoc(`path: "/var/log/[x"`), 4, "inputs[0].path", []string{"not a valid glob"}},
		{"path directory", inputDoc("path: /var/log/"), 4, "inputs[0].path", []string{"directory", "/var/log/*.log"}},
		{"path doublestar", inputDoc("path: /var/log/**/a.log"), 4, "inputs[0].path", []string{"**"}},
		{"path list", inputDoc("path: [/a.log, /b.log]"), 4, "inputs[0].path", []string{"is a list", "single value"}},
		{"path missing", doc(allModels, "inputs:", "  - name: web", "    format: squid"), 3, "inputs[0].path", []string{"missing", "paths"}},
		{"paths twice", inputDoc("paths: [/a.log, /a.log]"), 4, "inputs[0].paths[1]", []string{"twice", "paths[0]"}},
		{"paths empty item", inputDoc(`paths: [/a.log, ""]`), 4, "inputs[0].paths[1]", []string{"empty"}},
		{"path and paths", inputDoc("path: /a.log", "paths: [/b.log]"), 5, "inputs[0].paths", []string{"not both"}},
		{"name", doc(allModels, "inputs:", "  - name: Web Logs", "    path: /a.log", "    format: squid"), 3, "inputs[0].name", []string{`"Web Logs"`, "lower-case"}},
		{"name missing", doc(allModels, "inputs:", "  - path: /a.log", "    format: squid"), 3, "inputs[0].name", []string{"missing"}},
		{"duplicate input names", doc(allModels, "inputs:",
			"  - {name: web, path: /a.log, format: combined}",
			"  - {name: web, path: /b.log, format: squid}"), 4, "inputs[1].name", []string{`"web"`, "inputs[0]", "own name"}},
		{"glob in two inputs", doc(allModels, "inputs:",
			"  - {name: a, path: /a.log, format: combined}",
			"  - {name: b, paths: [/b.log, /a.log], format: squid}"), 4, "inputs[1].paths[1]", []string{"inputs[0]"}},
		{"inputs mapping", doc(allModels, "inputs: {name: web}"), 2, "inputs", []string{"want a list"}},
		{"inputs empty", doc(allModels, "inputs: []"), 2, "inputs", []string{"no input"}},
		{"inputs missing", doc(allModels), 0, "inputs", []string{"no input"}},
		{"input scalar", doc(allModels, "inputs:", "  - web"), 3, "inputs[0]", []string{"want a mapping", "name"}},

		{"host", topDoc(`host: "web 01"`), 5, "host", []string{"spaces"}},
		{"log level", topDoc("log: {level: verbose}"), 5, "log.level", []string{`"debug", "info", "warn" or "error"`}},
		{"log format", topDoc("log: {format: xml}"), 5, "log.format", []string{`"text" or "json"`}},

		{"state scalar", topDoc("state: /var/lib/x"), 5, "state", []string{"want a mapping", "retention"}},
		{"state path directory", topDoc("state: {path: /var/lib/sharkfin/}"), 5, "state.path", []string{"/var/lib/sharkfin/state.db"}},
		{"state path empty", topDoc(`state: {path: ""}`), 5, "state.path", []string{"empty"}},
		{"state retention below window", topDoc("state: {retention: 30s}"), 5, "state.retention", []string{"detect.window"}},
		{"state flush_lines zero", topDoc("state: {flush_lines: 0}"), 5, "state.flush_lines", []string{"at least 1"}},
		{"state flush_lines text", topDoc("state: {flush_lines: many}"), 5, "state.flush_lines", []string{"whole number"}},
		{"state flush_interval", topDoc("state: {flush_interval: 1h}"), 5, "state.flush_interval", []string{"at most 10m"}},
		{"state lock_timeout zero", topDoc("state: {lock_timeout: 0s}"), 5, "state.lock_timeout", []string{"at least 10ms"}},

		{"window short", topDoc("detect: {window: 500ms, models: {web: /m.json}}"), 5, "detect.window", []string{"at least 1s"}},
		{"window fraction", topDoc("detect: {window: 90500ms, models: {web: /m.json}}"), 5, "detect.window", []string{"whole number of seconds"}},
		{"window long", topDoc("detect: {window: 48h, models: {web: /m.json}}"), 5, "detect.window", []string{"at most 24h"}},
		{"lateness beyond ten windows", topDoc("detect: {window: 60s, lateness: 11m, models: {web: /m.json}}"), 5, "detect.lateness", []string{"12 windows", "at most 10m"}},
		{"lateness beyond an hour", topDoc("detect:", "  window: 10m", "  lateness: 2h", "  models: {web: /m.json}"), 7, "detect.lateness", []string{"at most 1h"}},
		{"lateness negative", topDoc("detect: {window: 2s, lateness: -1s, models: {web: /m.json}}"), 5, "detect.lateness", []string{"0 or more"}},
		{"pprof on every interface", topDoc(`metrics: {listen: ":9808", pprof: true}`), 5, "metrics.pprof", []string{"loopback", "127.0.0.1:9808"}},
		{"pprof on a public address", topDoc(`metrics: {listen: "192.0.2.1:9808", pprof: true}`), 5, "metrics.pprof", []string{"loopback"}},
		{"pprof without the endpoint", topDoc(`metrics: {listen: "", pprof: true}`), 5, "metrics.pprof", []string{"needs the metrics endpoint"}},
		{"model_check short", topDoc("detect: {model_check: 10ms, models: {web: /m.json}}"), 5, "detect.model_check", []string{"at least 100ms"}},
		{"model url http", topDoc("detect: {models: {web: 'http://m.example/web.json'}, trusted_keys: [/k.pub]}"), 5, "detect.models.web", []string{"only https://"}},
		{"model url unsigned", topDoc("detect: {models: {web: 'https://m.example/web.json'}}"), 5, "detect.models.web", []string{"must be signed", "detect.trusted_keys"}},
		{"model_pull interval", topDoc("detect: {models: {web: /m.json}, model_pull: {interval: 10ms}}"), 5, "detect.model_pull.interval", []string{"at least 1s"}},
		{"max_model_age negative", topDoc("detect: {max_model_age: -1h, models: {web: /m.json}}"), 5, "detect.max_model_age", []string{"negative"}},
		{"max_model_age short", topDoc("detect: {max_model_age: 10m, models: {web: /m.json}}"), 5, "detect.max_model_age", []string{"shorter than an hour", "0s for no check"}},
		{"max_keys zero", topDoc("detect: {max_keys: 0, models: {web: /m.json}}"), 5, "detect.max_keys", []string{"at least 1"}},
		{"close_batch zero", topDoc("detect: {close_batch: 0, models: {web: /m.json}}"), 5, "detect.close_batch", []string{"at least 1"}},
		{"features unknown kind", topDoc("detect: {features: {mail: [hits]}, models: {web: /m.json}}"), 5, "detect.features.mail", []string{"not a kind", "web, proxy or dns"}},
		{"features unknown feature", topDoc("detect: {features: {web: [hits, paths]}, models: {web: /m.json}}"), 5, "detect.features.web[1]", []string{`"paths" is not a web feature`, "distinct_paths"}},
		{"features twice", topDoc("detect: {features: {web: [hits, hits]}, models: {web: /m.json}}"), 5, "detect.features.web[1]", []string{"twice"}},
		{"features empty", topDoc("detect: {features: {web: []}, models: {web: /m.json}}"), 5, "detect.features.web", []string{"is empty"}},
		{"allow not a network", inputDoc("allow: {cidrs: [10.0.0.0/8, 10.0.0.300]}"), 4, "inputs[0].allow.cidrs[1]", []string{`"10.0.0.300" is not a network`}},
		{"model kind", topDoc("detect: {models: {web: /m.json, http: /h.json}}"), 5, "detect.models.http", []string{`"http"`, `"web", "proxy" or "dns"`}},
		{"model empty", topDoc("detect:", "  models:", `    web: ""`), 7, "detect.models.web", []string{"empty"}},
		{"model missing for kind", doc(
			"inputs:",
			"  - {name: web, path: /a.log, format: combined}",
			"  - {name: resolver, path: /q.log, format: bind}",
			"detect:",
			"  models:",
			"    web: /m/web.json"), 5, "detect.models.dns", []string{`"resolver"`, "dns", "dns: /etc/sharkfin/models/dns.json"}},
		{"no models", doc("inputs:", "  - {name: proxy, path: /a.log, format: squid}"), 0, "detect.models.proxy", []string{`"proxy"`, "format squid"}},
		{"trusted key empty", topDoc(`detect: {models: {web: /m.json}, trusted_keys: ["", /k.pub]}`), 5, "detect.trusted_keys[0]", []string{"keygen"}},
		{"trusted keys twice", topDoc("detect:", "  models: {web: /m.json}", "  trusted_keys:", "    - /k.pub", "    - /k.pub"), 9, "detect.trusted_keys[1]", []string{"twice"}},
		{"emit", topDoc("detect: {emit: some, models: {web: /m.json}}"), 5, "detect.emit", []string{`"all" or "anomalies"`}},
		{"enrich tls", topDoc("detect: {models: {web: /m.json}, domains: {enrich: {tls: sometimes}}}"), 5, "detect.domains.enrich.tls", []string{"true or false"}},

		{"fluentd address", topDoc("output: {fluentd: {address: localhost}}"), 5, "output.fluentd.address", []string{"host:port", "127.0.0.1:24224"}},
		{"fluentd port", topDoc(`output: {fluentd: {address: "fluentd:0"}}`), 5, "output.fluentd.address", []string{"bad port"}},
		{"fluentd unix relative", topDoc(`output: {fluentd: {address: "unix://run/f.sock"}}`), 5, "output.fluentd.address", []string{"absolute"}},
		{"fluentd unix tls", topDoc(`output: {fluentd: {address: "unix:///f.sock", tls: true}}`), 5, "output.fluentd.tls", []string{"TCP"}},
		{"fluentd ca without tls", topDoc("output:", "  fluentd:", "    ca_file: /ca.pem"), 7, "output.fluentd.ca_file", []string{"tls: true"}},
		{"fluentd skip verify without tls", topDoc("output: {fluentd: {insecure_skip_verify: true}}"), 5, "output.fluentd.insecure_skip_verify", []string{"tls: true"}},
		{"fluentd tag", topDoc("output: {fluentd: {tag_prefix: a..b}}"), 5, "output.fluentd.tag_prefix", []string{"empty part"}},
		{"fluentd tag char", topDoc(`output: {fluentd: {tag_prefix: "a b"}}`), 5, "output.fluentd.tag_prefix", []string{"character"}},
		{"fluentd outbox small", topDoc("output: {fluentd: {outbox_max: 10KB}}"), 5, "output.fluentd.outbox_max", []string{"at least 1MiB"}},
		{"fluentd outbox negative", topDoc("output: {fluentd: {outbox_max: -1}}"), 5, "output.fluentd.outbox_max", []string{"negative"}},
		{"fluentd timeout zero", topDoc("output: {fluentd: {timeout: 0s}}"), 5, "output.fluentd.timeout", []string{"at least 100ms"}},
		{"fluentd and stdout", topDoc("output:", "  fluentd: {address: 10.0.0.1:24224}", "  stdout: {}"), 7, "output.stdout", []string{"keep one"}},
		{"output empty", topDoc("output: {}"), 5, "output", []string{"no output", "stdout: {}"}},
		{"stdout scalar", topDoc("output: {stdout: true}"), 5, "output.stdout", []string{"stdout: {}"}},
		{"fluentd no value", topDoc("output:", "  fluentd:"), 6, "output.fluentd", []string{"fluentd: {}"}},
		{"metrics listen", topDoc("metrics: {listen: localhost}"), 5, "metrics.listen", []string{"host:port"}},
		{"metrics port", topDoc(`metrics: {listen: ":99999"}`), 5, "metrics.listen", []string{"bad port"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data, etc)
			wantProblem(t, err, etc, tc.line, tc.path, tc.words...)
		})
	}
}

func TestParse_UnknownKeys(t *testing.T) {
	for _, tc := range []struct {
		name  string
		data  []byte
		line  int
		path  string
		words []string
	}{
		{"top", topDoc("hosts: web-01"), 5, "hosts", []string{"did you mean host?"}},
		{"top unrelated", topDoc("kafka: {}"), 5, "kafka", []string{"host, log, inputs, state, detect, output, metrics"}},
		{"log", topDoc("log: {lvl: debug}"), 5, "log.lvl", []string{"unknown key"}},
		{"input", inputDoc("formt: squid"), 4, "inputs[0].formt", []string{"did you mean format?"}},
		{"input misplaced", inputDoc("window: 60s"), 4, "inputs[0].window", []string{"belongs under detect"}},
		{"second input", doc(allModels, "inputs:", "  - {name: a, path: /a.log, format: squid}", "  - {name: b, path: /b.log, format: squid, start-at: end}"), 4, "inputs[1].start-at", []string{"did you mean start_at?"}},
		{"state", topDoc("state:", "  pth: /x.db"), 6, "state.pth", []string{"did you mean path?"}},
		{"detect", topDoc("detect: {windw: 60s, models: {web: /m.json}}"), 5, "detect.windw", []string{"did you mean window?"}},
		{"domains", topDoc("detect: {models: {web: /m.json}, domains: {category: /c.csv}}"), 5, "detect.domains.category", []string{"categories"}},
		{"enrich", topDoc("detect: {models: {web: /m.json}, domains: {enrich: {rdpa: true}}}"), 5, "detect.domains.enrich.rdpa", []string{"tls, whois, whois_server, rdap"}},
		{"output", topDoc("output: {kafka: {}}"), 5, "output.kafka", []string{"fluentd, stdout"}},
		{"fluentd", topDoc("output: {fluentd: {port: 24224}}"), 5, "output.fluentd.port", []string{"unknown key"}},
		{"stdout", topDoc("output: {stdout: {pretty: true}}"), 5, "output.stdout.pretty", []string{"no keys"}},
		{"metrics", topDoc("metrics: {listen: ':9808', path: /metrics}"), 5, "metrics.path", []string{"belongs under"}},
		{"repeated key", topDoc("detect:", "  window: 60s", "  window: 30s", "  models: {web: /m.json}"), 7, "detect.window", []string{"twice", "line 6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data, etc)
			wantProblem(t, err, etc, tc.line, tc.path, tc.words...)
		})
	}
}

func TestParse_Syntax(t *testing.T) {
	for _, tc := range []struct {
		name  string
		data  string
		line  int
		words []string
	}{
		{"empty", "", 0, []string{"empty", "examples/sharkfin.yaml"}},
		{"comments only", "# nothing\n", 0, []string{"empty"}},
		{"scalar", "sharkfin\n", 1, []string{"not a mapping"}},
		{"list", "- a\n", 1, []string{"not a mapping"}},
		{"tab", "inputs:\n\t- name: web\n", 2, []string{"invalid YAML", "tabs"}},
		{"unquoted star", "inputs:\n  - exclude: [*.gz]\n", 2, []string{"quote"}},
		{"bad indent", "inputs:\n  - name: a\n   path: b\n", 3, []string{"invalid YAML"}},
		{"bad indent deep", "host: a\nlog: {level: info}\ninputs:\n  - name: a\n    path: b\n  bad\n", 6, []string{"invalid YAML"}},
		{"unclosed quote", "host: a\nlog: {level: 'info}\ninputs:\n  - name: a\n", 2, []string{"invalid YAML"}},
		{"unclosed flow", "host: a\nstate: {path: /x\ninputs: []\n", 2, []string{"invalid YAML"}},
		{"two documents", "host: a\n---\nhost: b\n", 2, []string{"second YAML document"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.data), etc)
			wantProblem(t, err, etc, tc.line, "", tc.words...)
		})
	}
}

// Validation reports every problem of a file at once.
func TestParse_ReportsEveryProblem(t *testing.T) {
	_, err := Parse(doc(
		"inputs:",
		"  - {name: web, path: /a.log, format: combined}",
		"  - {name: web, path: /b.log, format: combined}",
		"state: {flush_lines: 0}",
		"detect: {window: 10s, lateness: 2m}",
		"metrics: {listen: nowhere}",
	), etc)
	got := map[string]int{}
	for _, p := range problemsOf(t, err) {
		got[p.Path] = p.Line
	}
	want := map[string]int{
		"inputs[1].name":    3,
		"state.flush_lines": 4,
		"detect.lateness":   5,
		"detect.models.web": 5, // at its section, the key being absent
		"metrics.listen":    6,
	}
	for path, line := range want {
		if got[path] != line {
			t.Errorf("problem at %s: line %d, want %d", path, got[path], line)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(got), len(want), err)
	}

	// The tree check also reports all it finds at once.
	_, err = Parse(topDoc("state: {pth: x, retention: 1}", "metrics: {listn: x}"), etc)
	if n := len(problemsOf(t, err)); n != 3 {
		t.Errorf("tree check: %d problems, want 3:\n%v", n, err)
	}
}

func TestParse_RelativePaths(t *testing.T) {
	c := mustParse(t, doc(
		"inputs:",
		"  - {name: web, path: logs/access.log*, format: combined, exclude: [old/*]}",
		"  - {name: abs, paths: [/var/log/x.log, y/*.log], format: combined}",
		"state: {path: state.db}",
		"detect:",
		"  models: {web: models/web.json}",
		"  trusted_keys: [keys/ops.pub]",
		"  domains: {categories: ../cat.csv}",
		"output: {fluentd: {tls: true, ca_file: ca.pem}}",
	))
	for _, tc := range []struct{ key, got, want string }{
		{"inputs[0].path", c.Inputs[0].Path, "/etc/sharkfin/logs/access.log*"},
		{"inputs[0].exclude[0]", c.Inputs[0].Exclude[0], "old/*"},
		{"inputs[1].paths[0]", c.Inputs[1].Paths[0], "/var/log/x.log"},
		{"inputs[1].paths[1]", c.Inputs[1].Paths[1], "/etc/sharkfin/y/*.log"},
		{"state.path", c.State.Path, "/etc/sharkfin/state.db"},
		{"detect.models.web", c.Detect.Models["web"], "/etc/sharkfin/models/web.json"},
		{"detect.trusted_keys[0]", c.Detect.TrustedKeys[0], "/etc/sharkfin/keys/ops.pub"},
		{"detect.domains.categories", c.Detect.Domains.Categories, "/etc/cat.csv"},
		{"output.fluentd.ca_file", c.Output.Fluentd.CAFile, "/etc/sharkfin/ca.pem"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.key, tc.got, tc.want)
		}
	}

	// A model given as a URL: kept in ModelURLs, Models points at the
	// local copy beside the state.
	c = mustParse(t, doc(
		"inputs: [{name: web, path: /a.log, format: combined}]",
		"state: {path: /var/lib/sharkfin/state.db}",
		"detect: {models: {web: 'https://models.example.com/web.json'}, trusted_keys: [/k.pub]}",
	))
	if c.Detect.ModelURLs["web"] != "https://models.example.com/web.json" || c.Detect.Models["web"] != "/var/lib/sharkfin/models/web.json" {
		t.Errorf("pulled model: url %q, local %q", c.Detect.ModelURLs["web"], c.Detect.Models["web"])
	}

	// Parsed from memory, names stay as written.
	c, err := Parse(doc("inputs: [{name: a, path: a.log, format: squid}]", "detect: {models: {proxy: p.json}}"), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Inputs[0].Path != "a.log" || c.Detect.Models["proxy"] != "p.json" {
		t.Errorf("from memory: path %q, model %q; want them as written", c.Inputs[0].Path, c.Detect.Models["proxy"])
	}
}

// Anchors and merge keys, as examples/sharkfin.yaml shows them.
func TestParse_MergeKeys(t *testing.T) {
	c := mustParse(t, doc(
		allModels,
		"inputs:",
		"  - {name: a, path: /nfs/a/*.log, format: squid, <<: &nfs {poll: true, poll_interval: 1s}}",
		"  - {name: b, path: /nfs/b/*.log, format: squid, poll_interval: 2s, <<: *nfs}",
	))
	for i, want := range []Duration{Duration(time.Second), Duration(2 * time.Second)} {
		if in := c.Inputs[i]; !in.Poll || in.PollInterval != want {
			t.Errorf("inputs[%d]: poll %v every %s, want true every %s", i, in.Poll, in.PollInterval, want)
		}
	}
	_, err := Parse(doc(
		allModels,
		"inputs:",
		"  - {name: a, path: /a.log, format: squid, <<: &bad {pol: true}}",
	), etc)
	wantProblem(t, err, etc, 3, "inputs[0].pol", "did you mean poll?")

	// An anchor that contains its own alias is refused, not walked forever.
	_, err = Parse(doc(allModels, "inputs: [&x {name: a, <<: *x}]"), etc)
	wantProblem(t, err, etc, 2, "inputs[0]", "contains it")
	_, err = Parse(doc(allModels, "inputs: [&x {name: a, <<: [*x]}]"), etc)
	wantProblem(t, err, etc, 2, "inputs[0]", "contains it")
}

func TestInput_Tailer(t *testing.T) {
	c := mustParse(t, inputDoc("exclude: ['*.1']", "poll: true", "max_line_bytes: 64KiB"))
	tc := c.Inputs[0].Tailer()
	if err := tc.Validate(); err != nil {
		t.Fatalf("tailer config: %v", err)
	}
	if tc.Name != "web" || len(tc.Paths) != 1 || tc.Paths[0] != "/var/log/web.log" || !tc.Poll || tc.MaxLineBytes != 64<<10 {
		t.Errorf("tailer config %+v", tc)
	}
	wantExclude := append(append([]string(nil), tailer.DefaultExclude...), "*.1")
	if strings.Join(tc.Exclude, " ") != strings.Join(wantExclude, " ") {
		t.Errorf("exclude %v, want %v", tc.Exclude, wantExclude)
	}
	if p := c.Inputs[0].Parser(); p.Format != format.Combined {
		t.Errorf("parser format %v, want combined", p.Format)
	}
}

func TestLoad_MissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("Load of a missing file: %v; want a not-exist error naming %s", err, path)
	}
}

func TestLoad_File(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sharkfin.yaml")
	if err := os.WriteFile(path, topDoc(), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != path || c.Inputs[0].Name != "web" {
		t.Errorf("Load: path %q, input %q", c.Path, c.Inputs[0].Name)
	}
}

// The profiler is allowed on loopback listeners only.
func TestParse_PprofOnLoopback(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:9808", "127.0.0.2:1", "[::1]:9808", "localhost:9808"} {
		c, err := Parse(doc(
			"inputs:",
			"  - {name: web, path: /a.log, format: combined}",
			"detect: {models: {web: /m.json}}",
			"metrics: {listen: \""+listen+"\", pprof: true}",
		), etc)
		if err != nil || !c.Metrics.Pprof {
			t.Errorf("pprof on %s: %v", listen, err)
		}
	}
}
