package status

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"net/url"
	"slices"
	"strconv"

	"github.com/tocsin/tocsin/config"
)

// The unpaged /api/v1/checks is every check with its 21 recent results:
// about 2.3 kB a check, 116 MB at 50,000 checks (BenchmarkCheckPage50k),
// and every rebuild makes a new one. A client of a large estate asks for
// pages instead: ?limit=N gives the first N checks in config order and a
// next_cursor, ?limit=N&cursor=C the N after that. A page encodes only its
// own checks, each "recent" cut after its newest listRecent results at the
// offset appendCheckCut notes, and closed.
const (
	// listRecent is how many of a check's recent results, newest first, a
	// page shows; /api/v1/checks/{name} has them all.
	listRecent = 5
	// maxPageLimit bounds limit: a page of 1,000 checks is about 0.9 MB.
	maxPageLimit = 1000
	// maxCachedPages bounds the pages a snapshot keeps once made, with
	// their part lists and gzip variants (about 80 kB for a page of 1,000
	// of the benchmark's checks: 2,002 slice headers, 30 kB gzipped):
	// any limit and cursor make a page, and a snapshot may live a minute.
	// Others are made for each request, which costs slicing, a hash and,
	// for gzip, a compression, but no encoding. A walk of 50,000 checks
	// by 1,000 is 50 pages.
	maxCachedPages = 64
)

// checkPageKey names a page: its first check's config index and its limit.
type checkPageKey struct{ start, limit int }

// pageError is a paging request the server cannot answer: a 400 whose
// message names the parameter.
type pageError struct{ msg string }

func (e *pageError) Error() string { return e.msg }

// pageQuery reads limit and cursor; paged is false when neither is given,
// for the unpaged list.
func pageQuery(q url.Values) (limit int, cursor string, paged bool, err error) {
	if !q.Has("limit") && !q.Has("cursor") {
		return 0, "", false, nil
	}
	if !q.Has("limit") {
		return 0, "", true, &pageError{fmt.Sprintf("limit: required with cursor, a whole number from 1 to %d", maxPageLimit)}
	}
	limit, convErr := strconv.Atoi(q.Get("limit"))
	if convErr != nil || limit < 1 || limit > maxPageLimit {
		return 0, "", true, &pageError{fmt.Sprintf("limit: must be a whole number from 1 to %d", maxPageLimit)}
	}
	if q.Has("cursor") && q.Get("cursor") == "" {
		return 0, "", true, &pageError{"cursor: empty; leave it out for the first page"}
	}
	return limit, q.Get("cursor"), true, nil
}

// page returns the body of the page of limit checks at cursor ("" for the
// first), making it on first use. An error is an *pageError.
func (c *checkBodies) page(limit int, cursor string) (*body, error) {
	start := 0
	if cursor != "" {
		var err error
		if start, err = c.decodeCursor(cursor); err != nil {
			return nil, err
		}
	}
	key := checkPageKey{start, limit}
	c.mu.Lock()
	lb := c.pages[key]
	if lb == nil {
		lb = &lazyBody{}
		if len(c.pages) < maxCachedPages {
			c.pages[key] = lb
		}
	}
	c.mu.Unlock()
	lb.once.Do(func() { lb.b = c.makePage(start, limit) })
	return lb.b, nil
}

// makePage encodes a page: the envelope's head, the objects of its checks
// with "recent" cut after listRecent results, and next_cursor unless it is
// the last.
func (c *checkBodies) makePage(start, limit int) *body {
	end := min(start+limit, len(c.b.cfg.Checks))
	data := append(slices.Clip(c.head), `,"checks":[`...)
	for i := start; i < end; i++ {
		if i > start {
			data = append(data, ',')
		}
		data = c.appendObject(data, i, true)
	}
	data = append(data, ']')
	if end < len(c.b.cfg.Checks) {
		data = append(append(append(data, `,"next_cursor":"`...), c.cursor(end)...), '"')
	}
	return c.enc.newBody(append(data, '}'), contentTypeJSON, true)
}

// A cursor is the config index of the next page's first check, after a
// fingerprint of the configured check names in order, base64url-encoded.
// It does not name a snapshot: it stays good across rebuilds, and on
// every replica with the same checks. A reload that adds, removes or
// reorders checks makes it stale rather than letting a walk skip or
// repeat checks.
func (c *checkBodies) cursor(next int) string {
	buf := binary.BigEndian.AppendUint64(make([]byte, 0, 8+binary.MaxVarintLen64), c.print)
	return base64.RawURLEncoding.EncodeToString(binary.AppendUvarint(buf, uint64(next)))
}

func (c *checkBodies) decodeCursor(s string) (int, error) {
	malformed := &pageError{"cursor: malformed; use next_cursor as a page gave it"}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) < 9 {
		return 0, malformed
	}
	next, n := binary.Uvarint(raw[8:])
	if n <= 0 || 8+n != len(raw) {
		return 0, malformed
	}
	if binary.BigEndian.Uint64(raw[:8]) != c.print {
		return 0, &pageError{"cursor: stale: the configured checks changed since it was given; start again without cursor"}
	}
	if next < 1 || next >= uint64(len(c.b.cfg.Checks)) {
		return 0, malformed
	}
	return int(next), nil
}

// fingerprint hashes the check names in config order; cursors carry it.
func fingerprint(checks []config.Check) uint64 {
	h := fnv.New64a()
	var buf []byte
	for _, c := range checks {
		buf = append(binary.AppendUvarint(buf[:0], uint64(len(c.Name))), c.Name...)
		_, _ = h.Write(buf) // a hash never fails
	}
	return h.Sum64()
}
