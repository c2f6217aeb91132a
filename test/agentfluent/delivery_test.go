package agentfluent_test

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/event"
)

// Tags of the events, with the default tag_prefix.
const (
	tagIPScore = "sharkfin.web.ip_score"
	tagAgent   = "sharkfin.agent.agent"
)

// The record keys of each event type (CONTRACT.md, "Events").
var (
	ipScoreKeys = []string{"anomalous", "cluster", "distance", "event_id", "features", "host", "kind",
		"model", "score", "source", "src_ip", "threshold", "type", "window_end", "window_start"}
	agentKeys = []string{"event_id", "host", "kind", "level", "message", "source", "type",
		"window_end", "window_start"} // and detail, when the notice has any
)

// maxProblems bounds the problems reported one by one.
const maxProblems = 20

// delivery is what the receiver decoded, de-duplicated by event_id. Every
// entry is checked against the event schema as it is added.
type delivery struct {
	t        testing.TB
	model    *oracle
	added    int // entries added, duplicates included
	byID     map[string]entry
	dups     int                // entries whose event_id came before
	dupIDs   map[string]bool    // event_ids received more than once
	scores   map[winKey]entry   // first copy of each ip_score event
	arrivals map[string][]int64 // per src_ip, window starts in first-arrival order
	agents   []entry            // first copy of each agent event
	problems int
}

func newDelivery(t testing.TB, model *oracle) *delivery {
	return &delivery{t: t, model: model, byID: map[string]entry{}, dupIDs: map[string]bool{},
		scores: map[winKey]entry{}, arrivals: map[string][]int64{}}
}

func (d *delivery) problem(format string, args ...any) {
	d.t.Helper()
	d.problems++
	if d.problems <= maxProblems {
		d.t.Errorf(format, args...)
	} else if d.problems == maxProblems+1 {
		d.t.Errorf("more problems; not reported one by one")
	}
}

// update adds the entries not yet added.
func (d *delivery) update(entries []entry) {
	d.t.Helper()
	for _, e := range entries[d.added:] {
		d.add(e)
	}
	d.added = len(entries)
}

func (d *delivery) add(e entry) {
	d.t.Helper()
	id, _ := e.Record["event_id"].(string)
	if first, ok := d.byID[id]; ok {
		d.dups++
		d.dupIDs[id] = true
		if first.Tag != e.Tag || first.TimeNs != e.TimeNs || !reflect.DeepEqual(first.Record, e.Record) {
			d.problem("event %s received twice with different contents:\nfirst %+v\nlater %+v", id, first, e)
		}
		return
	}
	d.byID[id] = e
	switch typ, _ := e.Record["type"].(string); typ {
	case event.TypeIPScore:
		d.addScore(e)
	case event.TypeAgent:
		d.addAgent(e)
	default:
		d.problem("entry of unexpected type %q: %+v", typ, e)
	}
}

// checkCommon checks the keys every event has and returns the window.
func (d *delivery) checkCommon(e entry, tag, kind, source string, keys []string) (start, end time.Time, ok bool) {
	d.t.Helper()
	r := e.Record
	if e.Tag != tag {
		d.problem("event %v: tag %q, want %q", r["event_id"], e.Tag, tag)
	}
	var got []string
	for k := range maps.Keys(r) {
		switch {
		case k == "detail" && tag == tagAgent:
		case (k == "explain" || k == "severity" || k == "reason") && tag == tagIPScore && r["anomalous"] == true:
			// an anomaly's explanation, severity and reason (checked by addScore)
		default:
			got = append(got, k)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, keys) {
		d.problem("event %v: record keys %v, want %v", r["event_id"], got, keys)
		return start, end, false
	}
	for k, want := range map[string]string{"kind": kind, "host": testHost, "source": source} {
		if r[k] != want {
			d.problem("event %v: %s %#v, want %q", r["event_id"], k, r[k], want)
		}
	}
	id, _ := r["event_id"].(string)
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		d.problem("event_id %#v: want 32 hex digits", r["event_id"])
	}
	var err error
	ws, _ := r["window_start"].(string)
	we, _ := r["window_end"].(string)
	if start, err = time.Parse(time.RFC3339Nano, ws); err != nil || !strings.HasSuffix(ws, "Z") {
		d.problem("event %s: window_start %#v: want RFC 3339 in UTC (%v)", id, r["window_start"], err)
		return start, end, false
	}
	if end, err = time.Parse(time.RFC3339Nano, we); err != nil || !strings.HasSuffix(we, "Z") {
		d.problem("event %s: window_end %#v: want RFC 3339 in UTC (%v)", id, r["window_end"], err)
		return start, end, false
	}
	if e.TimeNs != end.UnixNano() {
		d.problem("event %s: event time %d ns, want the window end %s = %d ns", id, e.TimeNs, we, end.UnixNano())
	}
	return start, end, true
}

func (d *delivery) addScore(e entry) {
	d.t.Helper()
	r := e.Record
	start, end, ok := d.checkCommon(e, tagIPScore, "web", "web", ipScoreKeys)
	if !ok {
		return
	}
	id := r["event_id"].(string)
	ip, _ := r["src_ip"].(string)
	if start.Truncate(window) != start || end.Sub(start) != window {
		d.problem("event %s: window %v to %v, want %v aligned to the epoch", id, start, end, window)
	}
	if want := event.ID(testHost, "web", event.TypeIPScore, ip, start); id != want {
		d.problem("event %s: event_id is not that of %s in window %v (%s)", id, ip, start, want)
	}
	feats, _ := r["features"].(map[string]any)
	if got := slices.Sorted(maps.Keys(feats)); !slices.Equal(got, slices.Sorted(slices.Values(webFeatures))) {
		d.problem("event %s: features %v, want %v", id, got, webFeatures)
	}
	for name, v := range feats {
		checkNumber(d, id, "features."+name, v)
	}
	for _, k := range []string{"distance", "threshold", "score"} {
		checkNumber(d, id, k, r[k])
	}
	if _, ok := r["cluster"].(int64); !ok {
		d.problem("event %s: cluster %#v, want an integer", id, r["cluster"])
	}
	if _, ok := r["anomalous"].(bool); !ok {
		d.problem("event %s: anomalous %#v, want a bool", id, r["anomalous"])
	}
	if r["anomalous"] == true {
		d.checkVerdict(id, r, feats)
	}
	if r["model"] != d.model.ID {
		d.problem("event %s: model %#v, want %q", id, r["model"], d.model.ID)
	}
	k := winKey{IP: ip, Start: start.Unix()}
	if _, ok := d.scores[k]; ok {
		d.problem("two ip_score events with different event_ids for %v", k)
	}
	d.scores[k] = e
	d.arrivals[ip] = append(d.arrivals[ip], k.Start)
}

// checkVerdict checks an anomaly's reason (distance, probe with at least
// 3 rare errors, or flood with at least 20 POSTs), explanation (1 to 3 of its features, with their
// values, largest contribution first) and severity (0-100, when the model
// is calibrated).
func (d *delivery) checkVerdict(id string, r map[string]any, feats map[string]any) {
	d.t.Helper()
	switch rare, _ := feats["rare_errors"].(int64); r["reason"] {
	case event.ReasonDistance:
	case event.ReasonProbe:
		if rare < 3 {
			d.problem("event %s: reason probe with %v rare errors", id, feats["rare_errors"])
		}
	case event.ReasonFlood:
		if post, _ := feats["post"].(int64); post < 20 {
			d.problem("event %s: reason flood with %v POSTs", id, feats["post"])
		}
	default:
		d.problem("event %s: reason %#v, want distance, probe or flood", id, r["reason"])
	}
	ex, _ := r["explain"].([]any)
	if len(ex) == 0 || len(ex) > 3 {
		d.problem("event %s: explain %#v, want 1 to 3 features", id, r["explain"])
		return
	}
	last := 2.0
	for _, x := range ex {
		m, _ := x.(map[string]any)
		name, _ := m["feature"].(string)
		v, known := feats[name]
		c, isNum := m["contribution"].(float64)
		if ci, isInt := m["contribution"].(int64); isInt {
			c, isNum = float64(ci), true
		}
		if !known || m["value"] != v || !isNum || c > last || c < 0 {
			d.problem("event %s: explain entry %#v: not a feature of the event with its value, or out of order", id, x)
			return
		}
		last = c
		checkNumber(d, id, "explain.z", m["z"])
	}
	if s, ok := r["severity"]; ok {
		checkNumber(d, id, "severity", s)
		if f, _ := s.(float64); f < 0 || f > 100 {
			d.problem("event %s: severity %v, want 0-100", id, s)
		}
	}
}

// checkNumber checks that a number went as the contract's JSON writes it:
// an integer when it has no fraction, a float otherwise.
func checkNumber(d *delivery, id, name string, v any) {
	d.t.Helper()
	switch x := v.(type) {
	case int64:
	case float64:
		if x == float64(int64(x)) && x < 1e15 && x > -1e15 {
			d.problem("event %s: %s %v sent as a float, want an integer", id, name, x)
		}
	default:
		d.problem("event %s: %s %#v, want a number", id, name, v)
	}
}

func (d *delivery) addAgent(e entry) {
	d.t.Helper()
	r := e.Record
	if _, _, ok := d.checkCommon(e, tagAgent, "agent", "agent", agentKeys); !ok {
		return
	}
	switch r["level"] {
	case "info", "warn", "error":
	default:
		d.problem("agent event %v: level %#v", r["event_id"], r["level"])
	}
	if m, _ := r["message"].(string); m == "" {
		d.problem("agent event %v: no message", r["event_id"])
	}
	if det, ok := r["detail"]; ok {
		if m, ok := det.(map[string]any); !ok || len(m) == 0 {
			d.problem("agent event %v: detail %#v, want an object of strings", r["event_id"], det)
		}
	}
	d.agents = append(d.agents, e)
}

// number returns a record number as a float64.
func number(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return -1e300 // never equal to an expected value
}

// check compares the ip_score events with the ground truth: one event per
// (address, window) written, none other, each with the features of its
// lines and the model's verdict on them.
func (d *delivery) check(truth map[winKey]*keyTruth) {
	d.t.Helper()
	missing := 0
	for k, kt := range truth {
		e, ok := d.scores[k]
		if !ok {
			missing++
			if missing <= 5 {
				d.t.Errorf("no event for %v (%d lines)", k, kt.hits)
			}
			continue
		}
		id := e.Record["event_id"]
		want := kt.features()
		feats, _ := e.Record["features"].(map[string]any)
		for _, name := range webFeatures {
			if slices.Contains(horizonFeatures, name) {
				continue
			}
			if got := number(feats[name]); !near(got, want[name]) {
				d.problem("event %s (%v): %s %v, want %v", id, k, name, feats[name], want[name])
			}
		}
		if h, dd := number(feats["hour_4xx"]), number(feats["day_4xx"]); h < want["hits_4xx"] || dd < h ||
			number(feats["hour_rare_errors"]) != 0 || number(feats["day_rare_errors"]) != 0 ||
			number(feats["hour_new_rare_errors"]) != 0 || number(feats["day_new_rare_errors"]) != 0 {
			d.problem("event %s (%v): hour_4xx %v day_4xx %v (hits_4xx %v), rare errors %v %v, new %v %v: want hits_4xx <= hour_4xx <= day_4xx and no rare errors",
				id, k, feats["hour_4xx"], feats["day_4xx"], want["hits_4xx"], feats["hour_rare_errors"], feats["day_rare_errors"],
				feats["hour_new_rare_errors"], feats["day_new_rare_errors"])
		}
		v := d.model.score(want)
		if got := e.Record["cluster"]; got != int64(v.Cluster) {
			d.problem("event %s (%v): cluster %v, want %d", id, k, got, v.Cluster)
		}
		for name, w := range map[string]float64{"distance": v.Distance, "threshold": v.Threshold, "score": v.Score} {
			if got := number(e.Record[name]); !near(got, w) {
				d.problem("event %s (%v): %s %v, want %v", id, k, name, e.Record[name], w)
			}
		}
		if got := e.Record["anomalous"]; got != v.Anomalous {
			d.problem("event %s (%v): anomalous %v, want %v", id, k, got, v.Anomalous)
		}
	}
	if missing > 0 {
		d.t.Errorf("%d of %d (address, window) events never arrived", missing, len(truth))
	}
	extra := 0
	for k := range d.scores {
		if truth[k] == nil {
			extra++
			if extra <= 5 {
				d.t.Errorf("event for %v, of which no line was written", k)
			}
		}
	}
	if extra > 0 {
		d.t.Errorf("%d events of no written line", extra)
	}
}

// checkOrder requires that the events of every address arrived in
// window order, duplicates aside.
func (d *delivery) checkOrder() {
	d.t.Helper()
	for ip, starts := range d.arrivals {
		for i := 1; i < len(starts); i++ {
			if starts[i] <= starts[i-1] {
				d.problem("%s: window %v arrived after window %v", ip,
					time.Unix(starts[i], 0).UTC(), time.Unix(starts[i-1], 0).UTC())
				break
			}
		}
	}
}

// agentMessages returns the messages of the agent events.
func (d *delivery) agentMessages() []string {
	var out []string
	for _, e := range d.agents {
		out = append(out, fmt.Sprint(e.Record["message"]))
	}
	return out
}

// countAgent counts the agent events with a message.
func (d *delivery) countAgent(message string) int {
	n := 0
	for _, e := range d.agents {
		if e.Record["message"] == message {
			n++
		}
	}
	return n
}

// summary reports the counts.
func (d *delivery) summary() string {
	return fmt.Sprintf("%d entries received: %d ip_score events, %d agent events, %d duplicates of %d events",
		d.added, len(d.scores), len(d.agents), d.dups, len(d.dupIDs))
}
