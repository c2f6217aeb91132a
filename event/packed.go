package event

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/socx/sharkfin/internal/codec"
)

// The outbox keeps ip_score events packed. Rendered as JSON an ip_score
// event is about 500 bytes, and most of them are what every event of one
// input and model shares: kind, host, source, model and feature names. A
// packed event keeps that shared part once, as a Context stored beside the
// outbox and named by its ID, and each event as a Packed record of about
// 90 bytes. The sender unpacks an event when it delivers it; the event it
// gets back renders (AppendJSON) byte for byte as the event it came from,
// event_id included (ID is a function of the packed fields).
//
// A Packed record:
//
//	PackedTag                                  1 byte (a JSON record starts with '{')
//	context ID                                 8 bytes, little-endian
//	flags                                      1 byte: bit 0 anomalous, bit 1 a
//	                                           severity follows, bit 2 an
//	                                           explanation, bits 3-5 the reason
//	                                           (packedReasons), bits 6-7 0
//	window start                               varint, Unix nanoseconds
//	window length                              varint, nanoseconds
//	key (the source IP)                        uvarint length, then its bytes
//	feature values                             uvarint count, then a number each;
//	                                           trailing zeros are left out (the
//	                                           context's other names are 0)
//	cluster                                    varint
//	distance, threshold, score                 a number each
//
// A number is a uvarint u: an even u is the integer v with u = zigzag(v)<<1
// (|v| at most 2^53, so exact as a float64; never -0), and u = 1 is
// followed by the 8 bytes of the float64, little-endian. Varints are as
// encoding/binary writes them (zigzag for the signed ones).
//
// A Context (Context.MarshalBinary) is ContextTag, then kind, host, source
// and model, each a uvarint length and its bytes, then the uvarint count of
// feature names and each name likewise. Its ID is the first 8 bytes
// (little-endian) of the SHA-256 of that encoding, so the same context
// always gets the same ID.

// Leading bytes of the packed encodings.
const (
	PackedTag  = 0x01
	ContextTag = 0x01
)

// maxExact is the largest integer magnitude a packed number stores as an
// integer: every integer up to it is exact in a float64.
const maxExact = 1 << 53

// Context is the part of its ip_score events that an input and model share.
type Context struct {
	Kind, Host, Source, Model string
	// Names are the feature names, in the order of a Packed's Values.
	Names []string
}

// MarshalBinary encodes c (see the package's packed layout).
func (c *Context) MarshalBinary() ([]byte, error) {
	b := []byte{ContextTag}
	for _, s := range [...]string{c.Kind, c.Host, c.Source, c.Model} {
		b = appendBytes(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(c.Names)))
	for _, n := range c.Names {
		b = appendBytes(b, n)
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary writes.
func (c *Context) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != ContextTag {
		return errors.New("packed context: unknown version")
	}
	d := decoder{codec.NewReader(b[1:], nil)}
	var x Context
	for _, s := range [...]*string{&x.Kind, &x.Host, &x.Source, &x.Model} {
		*s = string(d.Bytes())
	}
	n := d.Uvarint()
	if n > uint64(d.Len()) { // each name takes at least a byte
		d.Fail()
	}
	if d.Err() == nil {
		x.Names = make([]string, n)
		for i := range x.Names {
			x.Names[i] = string(d.Bytes())
		}
	}
	if err := d.Err(); err != nil {
		return fmt.Errorf("packed context: %w", err)
	}
	if d.Len() > 0 {
		return fmt.Errorf("packed context: %d bytes past the end", d.Len())
	}
	*c = x
	return nil
}

// ContextID returns the ID of a context from its encoding
// (Context.MarshalBinary).
func ContextID(enc []byte) uint64 {
	sum := sha256.Sum256(enc)
	return binary.LittleEndian.Uint64(sum[:8])
}

// Packed is one ip_score event in packed form: what is its own, with its
// Context named by ID.
type Packed struct {
	Context    uint64
	Start, End int64 // window bounds, Unix nanoseconds
	Key        string
	Values     []float64
	Cluster    int
	Distance   float64
	Threshold  float64
	Score      float64
	Anomalous  bool
	// HasSeverity, Severity and Explain as in Event; an explanation
	// names its feature by index in Values (and the Context's Names).
	HasSeverity bool
	Severity    float64
	// Reason as in Event: ReasonDistance, ReasonProbe, ReasonFlood, or
	// empty (not anomalous, or packed by an agent of an earlier release).
	Reason  string
	Explain []PackedExplanation
}

// PackedExplanation is an Explanation in a Packed event.
type PackedExplanation struct {
	Index           int
	Z, Contribution float64
}

// AppendBinary appends the packed record of p to b. It allocates nothing
// beyond the growth of b.
func (p *Packed) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, PackedTag)
	b = binary.LittleEndian.AppendUint64(b, p.Context)
	var flags byte
	if p.Anomalous {
		flags |= 1
	}
	if p.HasSeverity {
		flags |= flagSeverity
	}
	if len(p.Explain) > 0 {
		flags |= flagExplain
	}
	if r := slices.Index(packedReasons, p.Reason); r >= 0 {
		flags |= byte(r) << reasonShift
	} else {
		return b, fmt.Errorf("packed event %s: unknown reason %q", p.Key, p.Reason)
	}
	b = append(b, flags)
	b = binary.AppendVarint(b, p.Start)
	b = binary.AppendVarint(b, p.End-p.Start)
	b = appendBytes(b, p.Key)
	// Trailing zeros are left out (the features most windows have none
	// of come last), but not past a feature an explanation names.
	n := len(p.Values)
	for n > 0 && p.Values[n-1] == 0 && !math.Signbit(p.Values[n-1]) {
		n--
	}
	for _, x := range p.Explain {
		n = max(n, min(x.Index+1, len(p.Values)))
	}
	b = binary.AppendUvarint(b, uint64(n))
	for _, v := range p.Values[:n] {
		b = appendPackedNumber(b, v)
	}
	b = binary.AppendVarint(b, int64(p.Cluster))
	b = appendPackedNumber(b, p.Distance)
	b = appendPackedNumber(b, p.Threshold)
	b = appendPackedNumber(b, p.Score)
	if p.HasSeverity {
		b = appendPackedNumber(b, p.Severity)
	}
	if len(p.Explain) > 0 {
		b = binary.AppendUvarint(b, uint64(len(p.Explain)))
		for _, x := range p.Explain {
			b = binary.AppendUvarint(b, uint64(x.Index))
			b = appendPackedNumber(b, x.Z)
			b = appendPackedNumber(b, x.Contribution)
		}
	}
	return b, nil
}

// Flags of a packed record besides bit 0 (anomalous): a severity, an
// explanation follow the score; bits 3-5 are its reason, an index in
// packedReasons (0, none, in records of earlier releases).
const (
	flagSeverity = 2
	flagExplain  = 4
	reasonShift  = 3
	flagReason   = 7 << reasonShift
)

// packedReasons are the reasons a packed record's flags name. The order is
// the stored format: append, never reorder. An index past the end (a
// reason of a later release) decodes as no reason, and the event is
// delivered without it.
var packedReasons = []string{"", ReasonDistance, ReasonProbe, ReasonFlood}

// UnmarshalBinary decodes a packed record into p, reusing p.Values. Key
// is a copy: p keeps nothing of b.
func (p *Packed) UnmarshalBinary(b []byte) error {
	key, err := p.decode(b)
	if err != nil {
		return err
	}
	p.Key = string(key)
	return nil
}

// decode is UnmarshalBinary but for Key, which it returns (in b) instead.
func (p *Packed) decode(b []byte) (key []byte, err error) {
	if len(b) < 10 || b[0] != PackedTag {
		return nil, errors.New("packed event: unknown version or cut short")
	}
	p.Context = binary.LittleEndian.Uint64(b[1:9])
	if b[9]&^(1|flagSeverity|flagExplain|flagReason) != 0 {
		return nil, fmt.Errorf("packed event: unknown flags %#x", b[9])
	}
	p.Anomalous = b[9]&1 != 0
	p.HasSeverity = b[9]&flagSeverity != 0
	p.Reason = ""
	if r := int(b[9] & flagReason >> reasonShift); r < len(packedReasons) {
		p.Reason = packedReasons[r]
	}
	d := decoder{codec.NewReader(b[10:], nil)}
	p.Start = d.Varint()
	p.End = p.Start + d.Varint()
	key = d.Bytes()
	n := d.Uvarint()
	if n > uint64(d.Len()) { // each number takes at least a byte
		d.Fail()
	}
	p.Values = p.Values[:0]
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		p.Values = append(p.Values, d.number())
	}
	p.Cluster = int(d.Varint())
	p.Distance = d.number()
	p.Threshold = d.number()
	p.Score = d.number()
	p.Severity = 0
	if p.HasSeverity {
		p.Severity = d.number()
	}
	p.Explain = p.Explain[:0]
	if b[9]&flagExplain != 0 {
		n := d.Uvarint()
		if n == 0 || n > uint64(d.Len()) || n > uint64(len(p.Values)) {
			d.Fail()
		}
		for i := uint64(0); i < n && d.Err() == nil; i++ {
			idx := d.Uvarint()
			if idx >= uint64(len(p.Values)) {
				d.Fail()
			}
			p.Explain = append(p.Explain, PackedExplanation{Index: int(idx), Z: d.number(), Contribution: d.number()})
		}
	}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("packed event: %w", err)
	}
	if d.Len() > 0 {
		return nil, fmt.Errorf("packed event: %d bytes past the end", d.Len())
	}
	return key, nil
}

// padValues restores the trailing zeros MarshalBinary left out, up to n
// values (the context's names).
func (p *Packed) padValues(n int) {
	for len(p.Values) < n {
		p.Values = append(p.Values, 0)
	}
}

// Event fills ev with the ip_score event p packs, its shared part from c,
// reusing ev.Features. It fails when p has not one value per name of c.
func (p *Packed) Event(c *Context, ev *Event) error {
	p.padValues(len(c.Names))
	if len(p.Values) != len(c.Names) {
		return fmt.Errorf("packed event %s: %d feature values for the %d names of its context", p.Key, len(p.Values), len(c.Names))
	}
	feats := ev.Features[:0]
	for i, n := range c.Names {
		feats = append(feats, Feature{Name: n, Value: p.Values[i]})
	}
	start := time.Unix(0, p.Start).UTC()
	*ev = Event{
		EventID:     ID(c.Host, c.Source, TypeIPScore, p.Key, start),
		Type:        TypeIPScore,
		Kind:        c.Kind,
		Host:        c.Host,
		Source:      c.Source,
		WindowStart: start,
		WindowEnd:   time.Unix(0, p.End).UTC(),
		SrcIP:       p.Key,
		Overflow:    p.Key == OverflowKey,
		Features:    feats,
		Cluster:     p.Cluster,
		Distance:    p.Distance,
		Threshold:   p.Threshold,
		Score:       p.Score,
		Anomalous:   p.Anomalous,
		Model:       c.Model,
		HasSeverity: p.HasSeverity,
		Severity:    p.Severity,
		Reason:      p.Reason,
	}
	for _, x := range p.Explain {
		ev.Explain = append(ev.Explain, Explanation{Feature: c.Names[x.Index], Value: p.Values[x.Index], Z: x.Z, Contribution: x.Contribution})
	}
	if ev.Overflow {
		ev.SrcIP = OverflowSrcIP
	}
	return nil
}

func appendBytes(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendPackedNumber(b []byte, v float64) []byte {
	if v == math.Trunc(v) && math.Abs(v) <= maxExact && !(v == 0 && math.Signbit(v)) {
		i := int64(v)
		return binary.AppendUvarint(b, uint64(i<<1^i>>63)<<1)
	}
	b = append(b, 1)
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

// decoder reads a packed encoding (the first failure sticks and makes
// every later read return zero) and its numbers.
type decoder struct{ codec.Reader }

func (d *decoder) number() float64 {
	u := d.Uvarint()
	switch {
	case d.Err() != nil:
		return 0
	case u&1 == 0:
		z := u >> 1
		v := int64(z>>1) ^ -int64(z&1)
		if v > maxExact || v < -maxExact {
			d.Fail()
			return 0
		}
		return float64(v)
	case u == 1:
		return math.Float64frombits(d.Uint64())
	}
	d.Fail()
	return 0
}

// Renderer writes packed events straight as JSON, byte for byte what
// AppendJSON writes for the event Packed.Event builds, without building
// it: the sender's hot path. It keeps each context's constant parts
// rendered, and the last window bounds. The zero value is ready to use;
// it is not safe for concurrent use.
type Renderer struct {
	pk         Packed
	ctx        *Context
	ctxJSON    *contextJSON
	byCtx      map[*Context]*contextJSON
	start, end int64
	startJSON  []byte // "window_start": value, for start
	endJSON    []byte
	haveTimes  bool
	// The last threshold rendered: a model has a handful, so most events
	// repeat one (shortest float formatting is the costliest part of an
	// event after its ID).
	threshold     float64
	thresholdJSON []byte
}

// contextJSON is a context's part of an event, rendered.
type contextJSON struct {
	head  []byte   // `,"type":…,"source":…,"window_start":`
	names [][]byte // `"name":` per feature, with its comma
	tail  []byte   // `,"model":…`
}

func renderContext(c *Context) *contextJSON {
	j := &contextJSON{}
	h := appendOrigin(nil, TypeIPScore, c.Kind, c.Host, c.Source)
	j.head = append(h, `,"window_start":`...)
	for i, n := range c.Names {
		var k []byte
		if i > 0 {
			k = append(k, ',')
		}
		k = appendString(k, n)
		j.names = append(j.names, append(k, ':'))
	}
	t := append([]byte(nil), `,"model":`...)
	j.tail = appendString(t, c.Model)
	return j
}

// AppendJSON decodes the packed record data and appends its event as
// JSON, its shared part from c. It fails, appending nothing, when data is
// not a packed record or has not one value per name of c.
func (r *Renderer) AppendJSON(b []byte, data []byte, c *Context) ([]byte, error) {
	p := &r.pk
	key, err := p.decode(data)
	if err != nil {
		return b, err
	}
	return r.appendJSON(b, c, key)
}

// AppendPacked appends the event of p as JSON, its shared part from c:
// AppendJSON without encoding p first. p's values are read, not kept.
func (r *Renderer) AppendPacked(b []byte, p *Packed, c *Context) ([]byte, error) {
	r.pk = *p
	return r.appendJSON(b, c, unsafe.Slice(unsafe.StringData(p.Key), len(p.Key)))
}

// PackedContext reads the context ID of a packed record, for the caller
// to find its Context (Renderer.AppendJSON then decodes the rest).
func PackedContext(data []byte) (uint64, bool) {
	if len(data) < 9 || data[0] != PackedTag {
		return 0, false
	}
	return binary.LittleEndian.Uint64(data[1:9]), true
}

func (r *Renderer) appendJSON(b []byte, c *Context, key []byte) ([]byte, error) {
	p := &r.pk
	p.padValues(len(c.Names))
	if len(p.Values) != len(c.Names) {
		return b, fmt.Errorf("packed event %s: %d feature values for the %d names of its context", key, len(p.Values), len(c.Names))
	}
	if c != r.ctx {
		if r.byCtx == nil {
			r.byCtx = map[*Context]*contextJSON{}
		}
		j := r.byCtx[c]
		if j == nil {
			if len(r.byCtx) >= 64 { // contexts come and go with reloads
				clear(r.byCtx)
			}
			j = renderContext(c)
			r.byCtx[c] = j
		}
		r.ctx, r.ctxJSON = c, j
	}
	if !r.haveTimes || p.Start != r.start || p.End != r.end {
		r.start, r.end, r.haveTimes = p.Start, p.End, true
		r.startJSON = appendTime(r.startJSON[:0], time.Unix(0, p.Start))
		r.endJSON = appendTime(r.endJSON[:0], time.Unix(0, p.End))
	}
	j := r.ctxJSON
	b = append(b, `{"event_id":"`...)
	b = appendID(b, c.Host, c.Source, TypeIPScore, key, p.Start)
	b = append(b, '"')
	b = append(b, j.head...)
	b = append(b, r.startJSON...)
	b = append(b, `,"window_end":`...)
	b = append(b, r.endJSON...)
	b = append(b, `,"src_ip":`...)
	if string(key) == OverflowKey {
		b = append(b, `"`+OverflowSrcIP+`","overflow":true`...)
	} else {
		b = appendStringBytes(b, key)
	}
	b = append(b, `,"features":{`...)
	for i, v := range p.Values {
		b = append(b, j.names[i]...)
		b = appendNumber(b, v)
	}
	b = append(b, '}')
	b = r.appendScoring(b, p)
	b = append(b, j.tail...)
	b = appendVerdict(b, p.HasSeverity, p.Severity, p.Reason, len(p.Explain), func(i int) (string, float64, float64, float64) {
		x := &p.Explain[i]
		return c.Names[x.Index], p.Values[x.Index], x.Z, x.Contribution
	})
	return append(b, '}'), nil
}

// appendScoring is appendScoring of p, rendering a score equal to the
// distance (a threshold of 1) and a threshold equal to the last once.
func (r *Renderer) appendScoring(b []byte, p *Packed) []byte {
	b = append(b, `,"cluster":`...)
	b = strconv.AppendInt(b, int64(p.Cluster), 10)
	b = append(b, `,"distance":`...)
	d := len(b)
	b = appendNumber(b, p.Distance)
	dist := b[d:]
	b = append(b, `,"threshold":`...)
	if r.thresholdJSON == nil || math.Float64bits(p.Threshold) != math.Float64bits(r.threshold) {
		r.threshold, r.thresholdJSON = p.Threshold, appendNumber(r.thresholdJSON[:0], p.Threshold)
	}
	b = append(b, r.thresholdJSON...)
	b = append(b, `,"score":`...)
	if math.Float64bits(p.Score) == math.Float64bits(p.Distance) {
		b = append(b, dist...) // dist is b[d:]: copied before, or from the old array if b grows
	} else {
		b = appendNumber(b, p.Score)
	}
	if p.Anomalous {
		return append(b, `,"anomalous":true`...)
	}
	return append(b, `,"anomalous":false`...)
}

// appendStringBytes is appendString of bytes, without copying them.
func appendStringBytes(b, s []byte) []byte {
	return appendString(b, unsafe.String(unsafe.SliceData(s), len(s)))
}
