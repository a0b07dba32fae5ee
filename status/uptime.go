package status

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/uptime"
)

// The uptime document, tocsin's own, at /api/v1/components/{id}/uptime?days=N
// (1 <= N <= 90, default 90):
//
//	{"generated_at", "stale", "time_zone", "days",
//	 "component": {"id", "name"},
//	 "uptime": ratio over the days, or null when nothing was watched,
//	 "history": [{"date", "status", "uptime", "durations": {status: seconds},
//	              "incidents": [{"id", "name", "impact"}]}, ...]}
//
// history runs oldest first; a day without data has null status and uptime.

const (
	pathComponentsV1 = "/api/v1/components/"
	// uptimeQuery joins id and days in the key a document is looked up by.
	uptimeQuery = "/uptime?days="
)

// dayView is one day of a component, as the page and the API show it.
type dayView struct {
	Date      time.Time
	Status    detector.ComponentStatus // worst that day; "" without data
	Ratio     float64
	HasRatio  bool
	Millis    uptime.StatusMillis
	Incidents []dayIncident
}

type dayIncident struct {
	ID     string          `json:"id"`
	Name   string          `json:"name"`
	Impact incident.Impact `json:"impact"`
}

// histories maps every configured component to its uptime.Days days, oldest
// first, with the incidents that touched it each day.
func (b *builder) histories() map[string][]dayView {
	dates := uptime.Range(b.in.Now, uptime.Days, b.loc)
	first := dates[0]
	touched := b.incidentDays(first)
	out := make(map[string][]dayView, len(b.cfg.Components))
	for _, c := range b.cfg.Components {
		stored := map[string]uptime.ComponentDay{}
		for _, d := range b.in.Uptime[c.ID] {
			stored[d.Date.In(b.loc).Format(time.DateOnly)] = d
		}
		days := make([]dayView, len(dates))
		for i, date := range dates {
			key := date.Format(time.DateOnly)
			d := stored[key]
			ratio, ok := d.Uptime()
			days[i] = dayView{Date: date, Status: d.Worst(), Ratio: ratio, HasRatio: ok, Millis: d.Millis,
				Incidents: touched[c.ID+"/"+key]}
		}
		out[c.ID] = days
	}
	return out
}

// incidentDays maps "component/date" to the incidents that affected the
// component on that day, from first on.
func (b *builder) incidentDays(first time.Time) map[string][]dayIncident {
	out := map[string][]dayIncident{}
	for _, in := range b.incidents {
		end := in.ResolvedAt
		if end.IsZero() {
			end = b.in.Now
		}
		start := in.StartedAt
		if start.IsZero() {
			start = in.CreatedAt
		}
		if end.Before(first) {
			continue
		}
		di := dayIncident{ID: in.ID, Name: b.scrub(in.Name), Impact: in.Impact}
		for d := uptime.Midnight(maxTime(start, first), b.loc); !d.After(end); d = d.AddDate(0, 0, 1) {
			key := d.Format(time.DateOnly)
			for id := range in.Components {
				out[id+"/"+key] = append(out[id+"/"+key], di)
			}
		}
	}
	return out
}

// uptimePct formats a ratio for people: "99.95%"; "no data" without one.
func uptimePct(ratio float64, ok bool) string {
	if !ok {
		return "no data"
	}
	return strconv.FormatFloat(ratio*100, 'f', 2, 64) + "%"
}

// historyRatio is the uptime over days together.
func historyRatio(days []dayView) (float64, bool) {
	cds := make([]uptime.ComponentDay, len(days))
	for i, d := range days {
		cds[i] = uptime.ComponentDay{Millis: d.Millis}
	}
	return uptime.Ratio(cds)
}

// uptimeBodies serves the uptime documents of one snapshot, each encoded on
// first request and kept: at most components x 90 of them.
type uptimeBodies struct {
	days  map[string][]dayView
	names map[string]string
	head  func(days int) uptimeDoc
	enc   *encoder

	mu   sync.Mutex
	docs map[string]*lazyBody
}

type uptimeDoc struct {
	GeneratedAt string          `json:"generated_at"`
	Stale       bool            `json:"stale"`
	TimeZone    string          `json:"time_zone"`
	Days        int             `json:"days"`
	Component   uptimeComponent `json:"component"`
	Uptime      *float64        `json:"uptime"`
	History     []uptimeDayJSON `json:"history"`
}

type uptimeComponent struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type uptimeDayJSON struct {
	Date      string                               `json:"date"`
	Status    *detector.ComponentStatus            `json:"status"`
	Uptime    *float64                             `json:"uptime"`
	Durations map[detector.ComponentStatus]float64 `json:"durations"`
	Incidents []dayIncident                        `json:"incidents"`
}

func (b *builder) uptimeBodies(enc *encoder, days map[string][]dayView) *uptimeBodies {
	names := make(map[string]string, len(b.cfg.Components))
	for _, c := range b.cfg.Components {
		names[c.ID] = c.Name
	}
	generated, stale, tz := b.ts(b.pageGeneratedAt()), b.in.Stale, b.page.TimeZone
	return &uptimeBodies{days: days, names: names, enc: enc, docs: map[string]*lazyBody{},
		head: func(n int) uptimeDoc {
			return uptimeDoc{GeneratedAt: generated, Stale: stale, TimeZone: tz, Days: n}
		}}
}

// cached reports whether the documents over n days are kept once made:
// the ranges widgets ask for. Any other range is encoded per request and
// not kept, so a client walking every range of every component cannot make
// a snapshot hold components x 90 documents.
func cached(n int) bool { return n == 7 || n == 30 || n == uptime.Days }

// get returns the document of component id over the last n days.
func (u *uptimeBodies) get(id string, n int) (*body, bool) {
	if u == nil {
		return nil, false
	}
	name, ok := u.names[id]
	if !ok || n < 1 || n > uptime.Days {
		return nil, false
	}
	if !cached(n) {
		return u.encode(id, name, n), true
	}
	key := id + "/" + strconv.Itoa(n)
	u.mu.Lock()
	lb := u.docs[key]
	if lb == nil {
		lb = &lazyBody{}
		u.docs[key] = lb
	}
	u.mu.Unlock()
	lb.once.Do(func() { lb.b = u.encode(id, name, n) })
	return lb.b, true
}

// encode makes the document of component id over the last n days.
func (u *uptimeBodies) encode(id, name string, n int) *body {
	days := u.days[id]
	days = days[max(0, len(days)-n):]
	doc := u.head(n)
	doc.Component = uptimeComponent{ID: id, Name: name}
	if r, ok := historyRatio(days); ok {
		doc.Uptime = &r
	}
	doc.History = make([]uptimeDayJSON, len(days))
	for i, d := range days {
		j := uptimeDayJSON{Date: d.Date.Format(time.DateOnly), Incidents: d.Incidents,
			Durations: map[detector.ComponentStatus]float64{}}
		if j.Incidents == nil {
			j.Incidents = []dayIncident{}
		}
		if d.Status != "" {
			st := d.Status
			j.Status = &st
		}
		if d.HasRatio {
			r := d.Ratio
			j.Uptime = &r
		}
		d.Millis.Each(func(st detector.ComponentStatus, ms int64) {
			j.Durations[st] = float64(ms) / 1000
		})
		doc.History[i] = j
	}
	data, err := json.Marshal(doc)
	if err != nil {
		// Strings, numbers and maps of them: Marshal cannot fail.
		panic(fmt.Sprintf("status: encode uptime document: %v", err))
	}
	// Lazy: the ETag and gzip variant are made when first served.
	return u.enc.newBody(data, contentTypeJSON, true)
}
