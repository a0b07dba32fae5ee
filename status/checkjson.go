package status

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/probe"
)

// A check is encoded by hand, straight from its state: mapping tens of
// thousands of checks to structs and encoding them by reflection took most
// of a build. The output is byte for byte what encoding/json makes of the
// structs in checkjson_test.go, which tests compare it with. A check is
//
//	{"name", "component", "type", "target" (null when unknown), "interval",
//	 "timeout", "status", "since" (null while unknown), "warnings":
//	 [warning, ...], "last_result" (null before the first result), "recent":
//	 [result, ...] (newest first)}
//
// A warning is what the last result noticed without changing the check's
// status (probe.Warning): {"reason", "message", "not_after"}, not_after the
// certificate's expiry for a cert_expiry warning, else null. Warnings are
// shown here, to the check's owners, and never on the public status page.
//
// last_result has "status", "reason", "message", "start", "duration_ms",
// "phases" ({"<phase>_ms": n}), "status_code" and "cert_expires_at"; a recent
// result only "status", "reason", "start" and "duration_ms". An empty
// string is null.

func (b *builder) appendCheck(dst []byte, c config.Check, st detector.Check) []byte {
	dst, _ = b.appendCheckCut(dst, c, st, nil)
	return dst
}

// appendCheckCut is appendCheck that also returns where, in dst, the
// object can be cut to keep only the newest listRecent results of
// "recent": the paged list (checkpage.go) serves dst[:cut] and "]}" and
// so never encodes a check twice. cut is -1 when the check has no more
// than listRecent results.
//
// With vantages, st is the worst of the check's states and vantages lists
// every vantage's, by index in Inputs.Checks: the object then also has
// "vantages": [{"vantage", "status", "since", "last_result"}, ...], before
// "recent" so that a page's cut keeps it.
func (b *builder) appendCheckCut(dst []byte, c config.Check, st detector.Check, vantages []int) ([]byte, int) {
	cut := -1
	status := st.Status
	if status == "" {
		status = detector.Unknown
	}
	dst = appendString(append(dst, `{"name":`...), c.Name)
	dst = appendString(append(dst, `,"component":`...), c.Component)
	dst = appendString(append(dst, `,"type":`...), c.Type)
	dst = appendNullString(append(dst, `,"target":`...), b.scrub(c.Target()))
	dst = appendString(append(dst, `,"interval":`...), c.Interval.String())
	dst = appendString(append(dst, `,"timeout":`...), c.Timeout.String())
	dst = appendString(append(dst, `,"status":`...), string(status))
	dst = b.appendNullTime(append(dst, `,"since":`...), st.Since)
	dst = append(dst, `,"warnings":[`...)
	if len(st.Recent) > 0 {
		dst = b.appendWarnings(dst, st.Last)
	}
	dst = append(dst, `],"last_result":`...)
	if len(st.Recent) > 0 {
		dst = b.appendResult(dst, st.Last)
	} else {
		dst = append(dst, "null"...)
	}
	if len(vantages) > 0 {
		dst = append(dst, `,"vantages":[`...)
		for k, j := range vantages {
			if k > 0 {
				dst = append(dst, ',')
			}
			vs := b.in.Checks[j]
			dst = appendString(append(dst, `{"vantage":`...), b.in.CheckVantages[j])
			dst = appendString(append(dst, `,"status":`...), string(cmp.Or(vs.Status, detector.Unknown)))
			dst = b.appendNullTime(append(dst, `,"since":`...), vs.Since)
			dst = append(dst, `,"last_result":`...)
			if len(vs.Recent) > 0 {
				dst = b.appendResult(dst, vs.Last)
			} else {
				dst = append(dst, "null"...)
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"recent":[`...)
	for i, r := range slices.Backward(st.Recent) {
		if i < len(st.Recent)-1 {
			dst = append(dst, ',')
		}
		dst = appendString(append(dst, `{"status":`...), string(r.Status()))
		dst = appendNullString(append(dst, `,"reason":`...), string(r.Reason()))
		dst = b.appendTime(append(dst, `,"start":`...), r.Start())
		dst = append(appendMillis(append(dst, `,"duration_ms":`...), r.Duration()), '}')
		if i == len(st.Recent)-listRecent && i > 0 {
			cut = len(dst) // after the listRecent-th newest, with older ones to come
		}
	}
	return append(dst, "]}"...), cut
}

func (b *builder) appendResult(dst []byte, r probe.Result) []byte {
	dst = appendString(append(dst, `{"status":`...), string(r.Status))
	dst = appendNullString(append(dst, `,"reason":`...), string(r.Reason))
	dst = appendNullString(append(dst, `,"message":`...), b.scrub(r.Message))
	dst = b.appendTime(append(dst, `,"start":`...), r.Start)
	dst = appendMillis(append(dst, `,"duration_ms":`...), r.Duration)
	dst = appendPhases(append(dst, `,"phases":`...), r.Phases)
	dst = append(dst, `,"status_code":`...)
	if r.StatusCode != 0 {
		dst = strconv.AppendInt(dst, int64(r.StatusCode), 10)
	} else {
		dst = append(dst, "null"...)
	}
	dst = b.appendNullTime(append(dst, `,"cert_expires_at":`...), r.CertNotAfter)
	return append(dst, '}')
}

// appendWarnings appends r's warnings, comma-separated.
func (b *builder) appendWarnings(dst []byte, r probe.Result) []byte {
	for i, w := range r.Warnings {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(append(dst, `{"reason":`...), string(w.Reason))
		dst = appendString(append(dst, `,"message":`...), b.scrub(w.Message))
		dst = append(dst, `,"not_after":`...)
		if w.Reason == probe.ReasonCertExpiry {
			dst = b.appendNullTime(dst, r.CertNotAfter)
		} else {
			dst = append(dst, "null"...)
		}
		dst = append(dst, '}')
	}
	return dst
}

// appendPhases encodes phases as encoding/json encodes a map of them: keys
// sorted, the last of two phases with one name winning.
func appendPhases(dst []byte, phases []probe.Phase) []byte {
	type kv struct {
		key string
		d   time.Duration
	}
	var buf [8]kv
	kvs := buf[:0]
	for _, p := range phases {
		k := p.Name + "_ms"
		if i := slices.IndexFunc(kvs, func(e kv) bool { return e.key == k }); i >= 0 {
			kvs[i].d = p.Duration
			continue
		}
		kvs = append(kvs, kv{k, p.Duration})
	}
	slices.SortFunc(kvs, func(a, c kv) int { return strings.Compare(a.key, c.key) })
	dst = append(dst, '{')
	for i, e := range kvs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendMillis(append(appendString(dst, e.key), ':'), e.d)
	}
	return append(dst, '}')
}

// quotedTime is a timestamp as a JSON string.
func (b *builder) quotedTime(t time.Time) []byte { return b.appendTime(nil, t) }

// appendTime appends ts(t) as a JSON string. It formats timeLayout by hand,
// several times faster than AppendFormat (a build may format millions of
// times), and falls back to AppendFormat for years outside 0-9999.
func (b *builder) appendTime(dst []byte, t time.Time) []byte {
	t = t.In(b.loc)
	_, offset := t.Zone()
	wall := t.UTC().Add(time.Duration(offset) * time.Second)
	year, month, day := wall.Date()
	if year < 0 || year > 9999 {
		return append(t.AppendFormat(append(dst, '"'), timeLayout), '"')
	}
	hour, minute, sec := wall.Clock()
	ms := wall.Nanosecond() / 1e6
	dst = append(dst, '"', digit(year/1000), digit(year/100), digit(year/10), digit(year), '-',
		digit(int(month)/10), digit(int(month)), '-', digit(day/10), digit(day), 'T',
		digit(hour/10), digit(hour), ':', digit(minute/10), digit(minute), ':', digit(sec/10), digit(sec), '.',
		digit(ms/100), digit(ms/10), digit(ms))
	if offset == 0 {
		return append(dst, 'Z', '"')
	}
	// As AppendFormat: whole minutes, truncated toward zero.
	zone, sign := offset/60, byte('+')
	if zone < 0 {
		zone, sign = -zone, '-'
	}
	h, m := zone/60, zone%60
	return append(dst, sign, digit(h/10), digit(h), ':', digit(m/10), digit(m), '"')
}

// digit is the last decimal digit of n >= 0.
func digit(n int) byte { return byte('0' + n%10) }

// appendNullTime is appendTime with null for the zero time.
func (b *builder) appendNullTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, "null"...)
	}
	return b.appendTime(dst, t)
}

// appendString appends s as a JSON string. Most strings here are plain
// ASCII; any other goes through encoding/json for its exact escaping (HTML
// characters, control characters, invalid UTF-8, U+2028 and U+2029).
func appendString(dst []byte, s string) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(dst, q...)
		}
	}
	return append(append(append(dst, '"'), s...), '"')
}

// appendNullString is appendString with null for "".
func appendNullString(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "null"...)
	}
	return appendString(dst, s)
}

// appendFloat appends f as encoding/json does: like JavaScript, with an
// exponent only for very small or large values. f is never NaN or infinite
// here (it is a duration).
func appendFloat(dst []byte, f float64) []byte {
	abs := math.Abs(f)
	if abs == 0 || abs >= 1e-6 && abs < 1e21 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	dst = strconv.AppendFloat(dst, f, 'e', -1, 64)
	// e-09 to e-9, as encoding/json
	if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
		dst[n-2] = dst[n-1]
		dst = dst[:n-1]
	}
	return dst
}

// appendMillis appends d in milliseconds, rounded to the microsecond, as
// appendFloat would, without the cost of
// a general float conversion: the value is a whole number of microseconds.
// Beyond 2^40 µs (12 days), where a float64 cannot keep that exactness
// apart from its shortest form, and for zero (which may be -0), it leaves
// the job to appendFloat.
func appendMillis(dst []byte, d time.Duration) []byte {
	usf := math.Round(float64(d) / float64(time.Microsecond))
	if usf == 0 || math.Abs(usf) >= 1<<40 {
		return appendFloat(dst, usf/1000)
	}
	us := int64(usf)
	if us < 0 {
		dst, us = append(dst, '-'), -us
	}
	dst = strconv.AppendInt(dst, us/1000, 10)
	frac := us % 1000
	if frac == 0 {
		return dst
	}
	dst = append(dst, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	for dst[len(dst)-1] == '0' {
		dst = dst[:len(dst)-1]
	}
	return dst
}
