package status

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// pageKey is everything the HTML pages, feeds, badges and uptime documents
// depend on. Check states are not among it: the Refresher rebuilds about
// once a second while probes report, and those bodies need not follow.
type pageKey struct {
	cfg                   any
	stateRead, uptimeRead time.Time
	stale                 bool
	minute                time.Time
	maint                 string
}

// A pageGroup is bodies rendered together: one page, or every badge, or
// every incident page with the not-found page.
type pageGroup int

const (
	groupFront pageGroup = iota
	groupFrontStatic
	groupHistory
	groupAtom
	groupRSS
	groupBadges
	groupIncidents
	groupCount
)

// groupOf names the group that serves path; false for a path no page has.
func groupOf(path string) (pageGroup, bool) {
	switch {
	case path == pathPage:
		return groupFront, true
	case path == pathPageStatic:
		return groupFrontStatic, true
	case path == pathHistory:
		return groupHistory, true
	case path == pathHistoryAtom:
		return groupAtom, true
	case path == pathHistoryRSS:
		return groupRSS, true
	case path == pathBadge, strings.HasPrefix(path, pathBadgePrefix):
		return groupBadges, true
	case strings.HasPrefix(path, pathIncidentPrefix):
		return groupIncidents, true
	}
	return 0, false
}

// pageSet holds the HTML pages, feeds, badges and uptime documents of one
// pageKey, each group rendered when first asked for, once. Rendering them
// with every rebuild made a replica nobody reads spend most of its CPU on
// html/template (issue 14: 76–84 % at 1,000–10,000 checks); now a page costs
// one render per change that somebody reads, and nothing otherwise. Several
// snapshots in a row share one set while its key holds. Safe for concurrent
// use.
type pageSet struct {
	key pageKey
	// b is the build the set was made in, without the check states (the
	// Refresher updates those in place between builds; no page shows them).
	// Rendering only reads it, once prepare has run.
	b   *builder
	enc *encoder
	// last is the set this one replaced: a group it rendered to the same
	// bytes hands its bodies, with their ETags and gzip variants, on. Only
	// one set back is kept, so a chain of sets nobody read stays short.
	last atomic.Pointer[pageSet]

	prepared sync.Once
	uptime   *uptimeBodies
	// missing is the page served for an incident id without a page, made
	// with the incident pages.
	missing *body

	groups [groupCount]renderedGroup

	// rendered is when a group of the set was last rendered and cost how
	// long all its renders took together, uptime history included, in
	// nanoseconds (onlyUptimeMoved).
	rendered, cost atomic.Int64
}

// renderedGroup is one group's bodies, made once.
type renderedGroup struct {
	once   sync.Once
	done   atomic.Bool
	bodies map[string]*body
	err    error
}

// pageBodies gives snap its pages: the previous snapshot's set when nothing
// they show changed, a new set, rendered as it is asked for, otherwise.
func (b *builder) pageBodies(snap *Snapshot, o buildOptions) {
	key := pageKey{cfg: b.cfg, stateRead: b.in.StateRead, uptimeRead: b.in.UptimeRead, stale: b.in.Stale,
		minute: b.in.Now.Truncate(time.Minute), maint: b.maintPhases()}
	var prev *pageSet
	if o.prev != nil {
		prev = o.prev.pages
	}
	if prev != nil && !key.stateRead.IsZero() && !key.uptimeRead.IsZero() &&
		(prev.key == key || onlyUptimeMoved(prev, key)) {
		snap.pages = prev
		return
	}
	pb := *b
	pb.in.Checks = nil
	ps := &pageSet{key: key, b: &pb, enc: o.enc}
	if prev != nil {
		ps.last.Store(prev)
		prev.last.Store(nil)
	}
	snap.pages = ps
}

// prepare maps the uptime history, which the front page and the uptime
// documents share; every use of b.days comes after it.
func (ps *pageSet) prepare() {
	ps.prepared.Do(func() {
		ps.b.days = ps.b.histories()
		ps.uptime = ps.b.uptimeBodies(ps.enc, ps.b.days)
	})
}

// uptimeDocs returns the uptime documents.
func (ps *pageSet) uptimeDocs() *uptimeBodies {
	ps.prepare()
	return ps.uptime
}

// get returns the body at path, rendering its group on first use; err is
// a render's failure.
func (ps *pageSet) get(path string) (*body, bool, error) {
	g, ok := groupOf(path)
	if !ok {
		return nil, false, nil
	}
	bodies, err := ps.group(g)
	if err != nil {
		return nil, false, err
	}
	b, ok := bodies[path]
	return b, ok, nil
}

// notFound returns the page served for an incident id without a page.
func (ps *pageSet) notFound() (*body, error) {
	if _, err := ps.group(groupIncidents); err != nil {
		return nil, err
	}
	return ps.missing, nil
}

// group renders group g once and returns its bodies.
func (ps *pageSet) group(g pageGroup) (map[string]*body, error) {
	rg := &ps.groups[g]
	rg.once.Do(func() {
		start := time.Now()
		ps.prepare()
		var prev map[string]*body
		var prevMissing *body
		if last := ps.last.Load(); last != nil && last.groups[g].done.Load() {
			prev = last.groups[g].bodies
			if g == groupIncidents { // written with that group's bodies
				prevMissing = last.missing
			}
		}
		rg.bodies, rg.err = ps.render(g, prev, prevMissing)
		ps.cost.Add(time.Since(start).Nanoseconds())
		ps.rendered.Store(start.UnixNano())
		rg.done.Store(true)
	})
	return rg.bodies, rg.err
}

// render makes group g's bodies, taking each that came out the same from
// prev. The one-page groups are hashed and compressed now: they are what
// readers ask for. Badges and incident pages, many of which nobody asks
// for, are hashed and compressed on first request.
func (ps *pageSet) render(g pageGroup, prev map[string]*body, prevMissing *body) (map[string]*body, error) {
	b, enc := ps.b, ps.enc
	one := func(path, contentType string, render func() ([]byte, error)) (map[string]*body, error) {
		data, err := render()
		if err != nil {
			return nil, err
		}
		return map[string]*body{path: enc.reuse(prev[path], data, contentType, false)}, nil
	}
	switch g {
	case groupFront:
		return one(pathPage, contentTypeHTML, b.renderPage)
	case groupFrontStatic:
		return one(pathPageStatic, contentTypeHTML, b.renderStaticPage)
	case groupHistory:
		return one(pathHistory, contentTypeHTML, b.renderHistory)
	case groupAtom:
		return one(pathHistoryAtom, contentTypeAtom, b.renderAtom)
	case groupRSS:
		return one(pathHistoryRSS, contentTypeRSS, b.renderRSS)
	case groupBadges:
		out := map[string]*body{}
		for path, svg := range b.renderBadges() {
			out[path] = enc.reuse(prev[path], svg, contentTypeSVG, true)
		}
		return out, nil
	case groupIncidents:
		pages, notFound, err := b.incidentPages()
		if err != nil {
			return nil, err
		}
		out := make(map[string]*body, len(pages))
		for _, p := range pages {
			out[p.path] = enc.reuse(prev[p.path], p.data, contentTypeHTML, true)
		}
		ps.missing = enc.reuse(prevMissing, notFound, contentTypeHTML, true)
		return out, nil
	}
	return nil, nil
}

// paths renders every group and lists the paths they serve.
func (ps *pageSet) paths() ([]string, error) {
	var out []string
	for g := range groupCount {
		bodies, err := ps.group(g)
		if err != nil {
			return nil, err
		}
		for p := range bodies {
			out = append(out, p)
		}
	}
	return out, nil
}

// renderBudget is the share of a core the pages may take when only the
// uptime bars moved: rendering 5,000 components' 90-day bars takes seconds,
// and the uptime history is read every 5 s while the store is young
// (refresher_uptime.go), which kept a large replica's CPU busy with pages
// nobody needed that fresh (issue 14). Renders faster than renderFloor,
// every small estate's, are never held back.
const (
	renderBudget = 10 // a render costing d waits 10·d after the last
	renderFloor  = 250 * time.Millisecond
)

// onlyUptimeMoved reports whether prev may stand for key though the uptime
// history was read again since: nothing else its pages show changed, and
// its renders were expensive and recent. Incidents, component statuses,
// maintenance and staleness always show at once.
func onlyUptimeMoved(prev *pageSet, key pageKey) bool {
	p := prev.key
	same := p.cfg == key.cfg && p.stateRead.Equal(key.stateRead) && p.stale == key.stale && p.maint == key.maint
	cost := time.Duration(prev.cost.Load())
	return same && cost >= renderFloor && time.Since(time.Unix(0, prev.rendered.Load())) < renderBudget*cost
}

// maintPhases names the phase of every maintenance occurrence shown.
func (b *builder) maintPhases() string {
	var sb strings.Builder
	for _, m := range b.maint {
		sb.WriteString(m.id)
		sb.WriteString(m.phase)
		sb.WriteByte(';')
	}
	return sb.String()
}
