package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/socx/sharkfin/detect"
	"github.com/socx/sharkfin/event"
	"github.com/socx/sharkfin/record"
)

// rareFeatures are the model features the path vocabulary tests train on.
const rareFeatures = "hits_2xx,hits_non2xx,distinct_paths,post,error_ratio,rare_errors"

// The pages the site serves, and the paths a scanner probes (never served).
var (
	vocabPages  = []string{"/", "/about", "/blog/first-post", "/products", "/contact", "/news", "/faq", "/team"}
	vocabProbes = []string{"/wp-login.php", "/.env", "/admin/config.bak", "/phpmyadmin/setup", "/xmlrpc.php"}
)

// combinedLine is one combined-format access log line.
func combinedLine(b *strings.Builder, t time.Time, client, method, path string, status int) {
	fmt.Fprintf(b, "%s - - [%s] \"%s %s HTTP/1.1\" %d %d \"-\" \"Mozilla/5.0\"\n",
		client, t.Format("02/Jan/2006:15:04:05 -0700"), method, path, status, 1000+len(path))
}

// vocabTrainingLog writes a combined log of minutes minutes: eight readers
// served the site's pages, and one client probing the never-served paths
// (404) once a minute.
func vocabTrainingLog(t *testing.T, dir string, minutes int) string {
	t.Helper()
	base := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	var b strings.Builder
	for m := range minutes {
		for s := 0; s < 60; s += 5 {
			at := base.Add(time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
			for c := range 8 {
				if (s/5+c+m)%3 == 0 {
					continue
				}
				page := vocabPages[(s/5+c*3+m)%len(vocabPages)]
				if c%3 == 0 && s%15 == 0 {
					page += fmt.Sprintf("?utm=%d", s) // query strings fold
				}
				combinedLine(&b, at, fmt.Sprintf("10.0.0.%d", 10+c), "GET", page, 200)
			}
			if s == 30 {
				for _, p := range vocabProbes {
					combinedLine(&b, at, "198.51.100.7", "GET", p, 404)
				}
			}
			if s == 45 && m%2 == 0 {
				combinedLine(&b, at, "10.0.0.10", "POST", "/contact", 302)
			}
		}
	}
	path := filepath.Join(dir, "train.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// eventsBySrc parses score's JSON lines: the events by client.
func eventsBySrc(t *testing.T, out string) map[string][]event.Event {
	t.Helper()
	evs := map[string][]event.Event{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev event.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("event %q: %v", sc.Text(), err)
		}
		if ev.Type == event.TypeIPScore {
			evs[ev.SrcIP] = append(evs[ev.SrcIP], ev)
		}
	}
	return evs
}

func feature(t *testing.T, ev event.Event, name string) float64 {
	t.Helper()
	v, ok := ev.Features.Get(name)
	if !ok {
		t.Fatalf("event of %s lacks %s", ev.SrcIP, name)
	}
	return v
}

func TestTrain_PathVocabulary(t *testing.T) {
	dir := t.TempDir()
	logPath := vocabTrainingLog(t, dir, 12)
	m1 := filepath.Join(dir, "m1.json")
	code, _, errs := run(t, "train", "--format", "combined", "--k", "2", "--seed", "3", "--version", "v1",
		"--features", rareFeatures, "-o", m1, logPath)
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "path vocabulary:") {
		t.Errorf("train does not report the path vocabulary: %s", errs)
	}
	var doc struct {
		Vocabulary map[string]any `json:"vocabulary"`
	}
	if err := json.Unmarshal([]byte(mustRead(t, m1)), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Vocabulary == nil {
		t.Fatal("the model file has no vocabulary object")
	}
	if size, _ := doc.Vocabulary["size"].(float64); size <= 0 {
		t.Errorf("vocabulary size %v, want > 0", doc.Vocabulary["size"])
	}
	model, err := detect.LoadModel(m1)
	if err != nil {
		t.Fatal(err)
	}
	v := model.Vocabulary
	for _, p := range vocabPages {
		if !v.Known([]byte(p)) {
			t.Errorf("served page %s is not in the vocabulary", p)
		}
	}
	for _, p := range vocabProbes {
		if v.Known([]byte(p)) {
			t.Errorf("probed path %s (404 to one client) is in the vocabulary", p)
		}
	}
	if v.Size != len(vocabPages) {
		t.Errorf("vocabulary of %d paths, want %d: %s", v.Size, len(vocabPages), v)
	}

	// Score a minute in which a scanner asks five never-served paths and
	// a reader reads served pages.
	var b strings.Builder
	at := time.Date(2026, 2, 2, 9, 0, 0, 0, time.UTC)
	for i, p := range vocabProbes {
		combinedLine(&b, at.Add(time.Duration(i)*time.Second), "203.0.113.9", "GET", p, 404)
	}
	for i, p := range vocabPages[:5] {
		combinedLine(&b, at.Add(time.Duration(i)*time.Second), "10.0.0.99", "GET", p+"?ref=x", 200)
	}
	combinedLine(&b, at.Add(6*time.Second), "10.0.0.99", "GET", "/blog/First-Post/", 200)
	scoreLog := filepath.Join(dir, "score.log")
	if err := os.WriteFile(scoreLog, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "score", "--format", "combined", "--model", m1, scoreLog)
	if code != 0 {
		t.Fatalf("score: exit %d: %s", code, errs)
	}
	evs := eventsBySrc(t, out)
	if len(evs["203.0.113.9"]) != 1 || len(evs["10.0.0.99"]) != 1 {
		t.Fatalf("events by client: %v", evs)
	}
	scanner, reader := evs["203.0.113.9"][0], evs["10.0.0.99"][0]
	if got := feature(t, scanner, "rare_errors"); got != 5 {
		t.Errorf("scanner rare_errors %v, want 5", got)
	}
	if got := feature(t, scanner, "rare_hits"); got != 5 {
		t.Errorf("scanner rare_hits %v, want 5", got)
	}
	if got := feature(t, reader, "rare_errors"); got != 0 {
		t.Errorf("reader rare_errors %v, want 0", got)
	}
	if got := feature(t, reader, "rare_hits"); got != 0 {
		t.Errorf("reader rare_hits %v, want 0", got)
	}

	// Standard input cannot be read twice: no vocabulary, so a rare_
	// feature is refused.
	var sout, serr bytes.Buffer
	code = Main(context.Background(), []string{"train", "--format", "combined", "--k", "2", "--features", rareFeatures,
		"-o", filepath.Join(dir, "stdin.json"), "-"}, strings.NewReader(mustRead(t, logPath)), &sout, &serr)
	if e := serr.String(); code == 0 || !strings.Contains(e, "standard input") || !strings.Contains(e, "--features rare_errors") || !strings.Contains(e, "path vocabulary") {
		t.Errorf("train from standard input with rare_errors: exit %d, stderr %q; want a failure naming the vocabulary", code, serr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "stdin.json")); err == nil {
		t.Error("train from standard input wrote a model")
	}

	// --vocabulary-size 0: none, so a rare_ feature is refused.
	code, _, errs = run(t, "train", "--format", "combined", "--k", "2", "--vocabulary-size", "0",
		"--features", rareFeatures, "-o", filepath.Join(dir, "none.json"), logPath)
	if code == 0 || !strings.Contains(errs, "rare_errors") || !strings.Contains(errs, "path vocabulary") {
		t.Errorf("--vocabulary-size 0 with rare_errors: exit %d, stderr %q", code, errs)
	}
	// ... and without one the model has no vocabulary.
	plain := filepath.Join(dir, "plain.json")
	code, _, errs = run(t, "train", "--format", "combined", "--k", "2", "--vocabulary-size", "0",
		"--features", "hits_2xx,hits_non2xx,distinct_paths,post,error_ratio", "-o", plain, logPath)
	if code != 0 {
		t.Fatalf("--vocabulary-size 0: exit %d: %s", code, errs)
	}
	if strings.Contains(mustRead(t, plain), `"vocabulary"`) {
		t.Error("--vocabulary-size 0 wrote a vocabulary")
	}

	// Events scored with m1, for training on what the fleet sent.
	code, out, errs = run(t, "score", "--format", "combined", "--model", m1, logPath)
	if code != 0 {
		t.Fatalf("score the training log: exit %d: %s", code, errs)
	}
	evfile := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(evfile, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	probes := eventsBySrc(t, out)["198.51.100.7"]
	if len(probes) == 0 || feature(t, probes[0], "rare_errors") != 5 {
		t.Errorf("the prober's training windows: %d events, want rare_errors 5", len(probes))
	}

	// --vocabulary-from a model without a vocabulary fails.
	code, _, errs = run(t, "train", "--k", "2", "--features", rareFeatures, "--vocabulary-from", plain,
		"-o", filepath.Join(dir, "from-plain.json"), evfile)
	if code == 0 || !strings.Contains(errs, "no path vocabulary") {
		t.Errorf("--vocabulary-from a model without one: exit %d, stderr %q", code, errs)
	}
	// Events without --vocabulary-from: no vocabulary.
	code, _, errs = run(t, "train", "--k", "2", "--features", rareFeatures, "-o", filepath.Join(dir, "ev-none.json"), evfile)
	if code == 0 || !strings.Contains(errs, "vocabulary") {
		t.Errorf("events with rare_errors, no --vocabulary-from: exit %d, stderr %q", code, errs)
	}
	// --vocabulary-from m1 works, and the model carries m1's vocabulary.
	m2 := filepath.Join(dir, "m2.json")
	code, _, errs = run(t, "train", "--k", "2", "--seed", "3", "--version", "v2", "--features", rareFeatures,
		"--vocabulary-from", m1, "-o", m2, evfile)
	if code != 0 {
		t.Fatalf("--vocabulary-from m1 on events: exit %d: %s", code, errs)
	}
	model2, err := detect.LoadModel(m2)
	if err != nil {
		t.Fatal(err)
	}
	if v2 := model2.Vocabulary; v2 == nil || v2.Key != v.Key || v2.Hashes != v.Hashes || v2.Size != v.Size {
		t.Errorf("m2's vocabulary differs from m1's: %+v", v2)
	}
	if model2.Training.Rows != model.Training.Rows {
		t.Errorf("m2 trained on %d rows, m1 on %d", model2.Training.Rows, model.Training.Rows)
	}
	// m2 scores the scanner as m1 did.
	code, out, errs = run(t, "score", "--format", "combined", "--model", m2, scoreLog)
	if code != 0 {
		t.Fatalf("score with m2: exit %d: %s", code, errs)
	}
	if got := feature(t, eventsBySrc(t, out)["203.0.113.9"][0], "rare_errors"); got != 5 {
		t.Errorf("m2: scanner rare_errors %v, want 5", got)
	}
}

// Events of agents older than the rare-path and horizon features lack
// them: training on such events works (they are taken as 0) unless the
// model is to use one, which is refused naming it.
func TestTrain_EventsOfOlderAgents(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := run(t, "score", "--format", "combined", "--model", webModel, webLog)
	if code != 0 {
		t.Fatalf("score: %s", errs)
	}
	old := regexp.MustCompile(`,"(rare_[a-z_]+|hour_[a-z0-9_]+|day_[a-z0-9_]+)":[-0-9.e+]+`).ReplaceAllString(out, "")
	if old == out || strings.Contains(old, "rare_hits") || strings.Contains(old, "hour_4xx") {
		t.Fatal("the features were not stripped")
	}
	evfile := filepath.Join(dir, "old-events.jsonl")
	if err := os.WriteFile(evfile, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	m := filepath.Join(dir, "m.json")
	code, _, errs = run(t, "train", "--k", "3", "--seed", "5", "-o", m, evfile)
	if code != 0 {
		t.Fatalf("train from older agents' events: %s", errs)
	}
	if !strings.Contains(errs, "taken as 0") {
		t.Errorf("train did not say it took missing features as 0:\n%s", errs)
	}
	code, _, errs = run(t, "train", "--k", "3", "--seed", "5", "--features", "hits_2xx,hits_non2xx,hour_4xx", "-o", m, evfile)
	if code == 0 || !strings.Contains(errs, `"hour_4xx"`) {
		t.Errorf("train with a feature the events lack: exit %d, %s; want a refusal naming hour_4xx", code, errs)
	}
	// Logs and events together would learn a vocabulary the events were
	// not counted against.
	code, _, errs = run(t, "train", "--format", "combined", "-o", m, webLog, evfile)
	if code == 0 || !strings.Contains(errs, "--vocabulary-from") {
		t.Errorf("train from logs and events: exit %d, %s; want a refusal pointing at --vocabulary-from", code, errs)
	}
	if code, _, errs = run(t, "train", "--format", "combined", "--vocabulary-size", "0", "-o", m, webLog, evfile); code != 0 {
		t.Errorf("train from logs and events without a vocabulary: %s", errs)
	}
}

// Training leaves out the windows that probe (--probe-rare-errors, 3 by
// default): the prober's 12 windows are not learnt, and with 0 they are.
func TestTrain_LeavesProbesOut(t *testing.T) {
	dir := t.TempDir()
	logPath := vocabTrainingLog(t, dir, 12)
	m := filepath.Join(dir, "m.json")
	code, _, errs := run(t, "train", "--format", "combined", "--k", "2", "--seed", "3", "-o", m, logPath)
	if code != 0 {
		t.Fatalf("train: %s", errs)
	}
	if !strings.Contains(errs, "left out 12 windows that asked for 3 or more paths") {
		t.Errorf("train did not leave the prober's 12 windows out:\n%s", errs)
	}
	rows := func(path string) int {
		mm, err := detect.LoadModel(path)
		if err != nil {
			t.Fatal(err)
		}
		return mm.Training.Rows
	}
	kept := filepath.Join(dir, "kept.json")
	code, _, errs = run(t, "train", "--format", "combined", "--k", "2", "--seed", "3", "--probe-rare-errors", "0", "-o", kept, logPath)
	if code != 0 || strings.Contains(errs, "left out") {
		t.Fatalf("train --probe-rare-errors 0: exit %d\n%s", code, errs)
	}
	if a, b := rows(m), rows(kept); b != a+12 {
		t.Errorf("training rows %d with probes left out, %d with them kept; want 12 more", a, b)
	}
}

// Events of the release before hour_new_rare_errors lack it: training the
// default web features from them with a vocabulary is refused, naming the
// feature, what those agents sent in its place and the features to give;
// with those it trains.
func TestTrain_EventsWithoutNewRareErrors(t *testing.T) {
	dir := t.TempDir()
	logPath := vocabTrainingLog(t, dir, 12)
	m1 := filepath.Join(dir, "m1.json")
	if code, _, errs := run(t, "train", "--format", "combined", "--k", "2", "--seed", "3", "-o", m1, logPath); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	code, out, errs := run(t, "score", "--format", "combined", "--model", m1, logPath)
	if code != 0 {
		t.Fatalf("score: %s", errs)
	}
	old := regexp.MustCompile(`,"(hour|day)_new_rare_errors":[-0-9.e+]+`).ReplaceAllString(out, "")
	if old == out || strings.Contains(old, `new_rare_errors":`) || !strings.Contains(old, "hour_rare_errors") {
		t.Fatalf("the features were not stripped: %.600s", out)
	}
	evfile := filepath.Join(dir, "prev-events.jsonl")
	if err := os.WriteFile(evfile, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	m2 := filepath.Join(dir, "m2.json")
	code, _, errs = run(t, "train", "--k", "2", "--seed", "3", "--vocabulary-from", m1, "-o", m2, evfile)
	want := "--features " + strings.Join(detect.EarlierDefaultFeatures(record.KindWeb), ",")
	if code == 0 || !strings.Contains(errs, `"hour_new_rare_errors"`) || !strings.Contains(errs, `"hour_rare_errors"`) || !strings.Contains(errs, want) {
		t.Fatalf("train from events without hour_new_rare_errors: exit %d, %s; want a refusal naming it, hour_rare_errors and %q", code, errs, want)
	}
	if !strings.Contains(want, "hour_rare_errors") || strings.Contains(want, "new_rare") {
		t.Fatalf("EarlierDefaultFeatures: %s", want)
	}
	code, _, errs = run(t, "train", "--k", "2", "--seed", "3", "--vocabulary-from", m1, "--features", strings.TrimPrefix(want, "--features "), "-o", m2, evfile)
	if code != 0 {
		t.Fatalf("train with the features given: %s", errs)
	}
	// Features of one's own: the predecessor named, not the defaults.
	code, _, errs = run(t, "train", "--k", "2", "--seed", "3", "--vocabulary-from", m1, "--features", "hits_2xx,day_new_rare_errors", "-o", m2, evfile)
	if code == 0 || !strings.Contains(errs, `"day_rare_errors"`) || strings.Contains(errs, "default") {
		t.Errorf("train --features hits_2xx,day_new_rare_errors from such events: exit %d, %s; want a refusal naming day_rare_errors only", code, errs)
	}
}

// The same logs and seed give the same model, byte for byte: the path
// vocabulary's key and the rare-error paths' tags (hour_new_rare_errors)
// derive from --seed.
func TestTrain_SameSeedSameModel(t *testing.T) {
	dir := t.TempDir()
	logPath := vocabTrainingLog(t, dir, 12)
	var models [2][]byte
	for i := range models {
		m := filepath.Join(dir, fmt.Sprintf("m%d.json", i))
		if code, _, errs := run(t, "train", "--format", "combined", "--k", "2", "--seed", "7", "--version", "t", "--probe-rare-errors", "0", "-o", m, logPath); code != 0 {
			t.Fatalf("train: %s", errs)
		}
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		// The time of training is the one field that may differ.
		models[i] = regexp.MustCompile(`"created": "[^"]*"`).ReplaceAll(b, nil)
	}
	if !bytes.Equal(models[0], models[1]) {
		t.Errorf("two trainings with --seed 7 differ:\n%s\n%s", models[0], models[1])
	}
	if !bytes.Contains(models[0], []byte(`"hour_new_rare_errors"`)) {
		t.Errorf("the model does not use hour_new_rare_errors: %.400s", models[0])
	}
}
