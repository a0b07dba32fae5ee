package status

import (
	"strings"
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

// pageBodies puts the HTML pages, feeds, badges and uptime documents into
// snap: the previous snapshot's when nothing they show changed, freshly
// rendered otherwise.
func (b *builder) pageBodies(snap *Snapshot, o buildOptions) error {
	key := pageKey{cfg: b.cfg, stateRead: b.in.StateRead, uptimeRead: b.in.UptimeRead, stale: b.in.Stale,
		minute: b.in.Now.Truncate(time.Minute), maint: b.maintPhases()}
	snap.pages = key
	if prev := o.prev; prev != nil && !key.stateRead.IsZero() && !key.uptimeRead.IsZero() &&
		(prev.pages == key || onlyUptimeMoved(prev, key)) {
		for _, p := range prev.pagePaths {
			snap.bodies[p] = prev.bodies[p]
		}
		snap.pages, snap.pagePaths, snap.uptime, snap.notFound = prev.pages, prev.pagePaths, prev.uptime, prev.notFound
		snap.rendered, snap.renderCost = prev.rendered, prev.renderCost
		return nil
	}
	start := time.Now()
	defer func() { snap.rendered, snap.renderCost = start, time.Since(start) }()
	var prevBodies map[string]*body
	if o.prev != nil {
		prevBodies = o.prev.bodies
	}
	add := func(path, contentType string, data []byte) {
		snap.bodies[path] = o.enc.reuse(prevBodies[path], data, contentType, false)
		snap.pagePaths = append(snap.pagePaths, path)
	}
	b.days = b.histories()
	snap.uptime = b.uptimeBodies(o.enc, b.days)
	for _, r := range []struct {
		path, contentType string
		render            func() ([]byte, error)
	}{
		{pathPage, contentTypeHTML, b.renderPage},
		{pathPageStatic, contentTypeHTML, b.renderStaticPage},
		{pathHistory, contentTypeHTML, b.renderHistory},
		{pathHistoryAtom, contentTypeAtom, b.renderAtom},
		{pathHistoryRSS, contentTypeRSS, b.renderRSS},
	} {
		data, err := r.render()
		if err != nil {
			return err
		}
		add(r.path, r.contentType, data)
	}
	for path, svg := range b.renderBadges() {
		add(path, contentTypeSVG, svg)
	}
	pages, notFound, err := b.incidentPages()
	if err != nil {
		return err
	}
	for _, p := range pages {
		snap.bodies[p.path] = o.enc.reuse(prevBodies[p.path], p.data, contentTypeHTML, true)
		snap.pagePaths = append(snap.pagePaths, p.path)
	}
	var prevNotFound *body
	if o.prev != nil {
		prevNotFound = o.prev.notFound
	}
	snap.notFound = o.enc.reuse(prevNotFound, notFound, contentTypeHTML, true)
	return nil
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

// onlyUptimeMoved reports whether the pages of prev may stand for key
// though the uptime history was read again since: nothing else they show
// changed, and the last render was expensive and recent. Incidents,
// component statuses, maintenance and staleness always show at once.
func onlyUptimeMoved(prev *Snapshot, key pageKey) bool {
	p := prev.pages
	same := p.cfg == key.cfg && p.stateRead.Equal(key.stateRead) && p.stale == key.stale && p.maint == key.maint
	return same && prev.renderCost >= renderFloor && time.Since(prev.rendered) < renderBudget*prev.renderCost
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
