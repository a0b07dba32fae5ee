package status

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
)

// pageDoc is a page of /api/v1/checks as a client reads it.
type pageDoc struct {
	GeneratedAt string                       `json:"generated_at"`
	Stale       *bool                        `json:"stale"`
	Checks      []map[string]json.RawMessage `json:"checks"`
	NextCursor  *string                      `json:"next_cursor"`
}

func get(t *testing.T, srv *httptest.Server, path string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// walk follows next_cursor from the first page of limit, returning the
// pages.
func walk(t *testing.T, srv *httptest.Server, limit int) []pageDoc {
	t.Helper()
	var pages []pageDoc
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	for {
		resp, data := get(t, srv, pathChecks+"?"+q.Encode(), nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s?%s = %d %s", pathChecks, q.Encode(), resp.StatusCode, data)
		}
		var p pageDoc
		if err := json.Unmarshal(data, &p); err != nil {
			t.Fatalf("page %s: %v", data, err)
		}
		pages = append(pages, p)
		if p.NextCursor == nil {
			return pages
		}
		if *p.NextCursor == "" || len(pages) > 1000 {
			t.Fatalf("page %d: next_cursor %q", len(pages), *p.NextCursor)
		}
		q.Set("cursor", *p.NextCursor)
	}
}

// fullChecks is every check's object in the unpaged list, by name.
func fullChecks(t *testing.T, srv *httptest.Server) map[string]map[string]json.RawMessage {
	t.Helper()
	resp, data := get(t, srv, pathChecks, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d", pathChecks, resp.StatusCode)
	}
	var doc pageDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.NextCursor != nil {
		t.Errorf("the unpaged list has next_cursor %q", *doc.NextCursor)
	}
	out := map[string]map[string]json.RawMessage{}
	for _, c := range doc.Checks {
		out[nameOf(t, c)] = c
	}
	return out
}

func nameOf(t *testing.T, c map[string]json.RawMessage) string {
	t.Helper()
	var name string
	if err := json.Unmarshal(c["name"], &name); err != nil {
		t.Fatal(err)
	}
	return name
}

func recentOf(t *testing.T, c map[string]json.RawMessage) []json.RawMessage {
	t.Helper()
	var r []json.RawMessage
	if err := json.Unmarshal(c["recent"], &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestCheckPagesWalk: following next_cursor visits every check once, in
// config order, each page at most limit checks; a page's check is the
// unpaged list's with only the newest listRecent results, while
// /api/v1/checks/{name} keeps them all.
func TestCheckPagesWalk(t *testing.T) {
	t.Parallel()
	bench := benchInputs(t, 23) // 21 results per check
	small := scenarios()[1].in  // fewer than listRecent results
	tests := []struct {
		name   string
		in     Inputs
		limits []int
	}{
		{"21 results", bench, []int{1, 5, 7, 22, 23, 24, maxPageLimit}},
		{"few results", small, []int{1, 2, maxPageLimit}},
		{"no checks", Inputs{Config: &config.Config{}, Now: t0}, []int{1, 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(newTestServer(t, ServerOptions{}, &tt.in).Handler())
			t.Cleanup(srv.Close)
			full := fullChecks(t, srv)
			for _, limit := range tt.limits {
				pages := walk(t, srv, limit)
				var names []string
				for i, p := range pages {
					if len(p.Checks) > limit || (len(p.Checks) < limit && i < len(pages)-1) ||
						p.Stale == nil || p.GeneratedAt == "" {
						t.Fatalf("limit %d, page %d: %d checks, stale %v, generated_at %q", limit, i,
							len(p.Checks), p.Stale, p.GeneratedAt)
					}
					for _, c := range p.Checks {
						name := nameOf(t, c)
						names = append(names, name)
						want := full[name]
						got, wantRecent := recentOf(t, c), recentOf(t, want)
						if n := min(len(wantRecent), listRecent); !reflect.DeepEqual(got, wantRecent[:n]) {
							t.Errorf("limit %d, %s: recent %s, want the newest %d of %s", limit, name, c["recent"], n, want["recent"])
						}
						delete(c, "recent")
						rest := maps.Clone(want)
						delete(rest, "recent")
						if !reflect.DeepEqual(c, rest) {
							t.Errorf("limit %d, %s: page object differs from the list's", limit, name)
						}
					}
				}
				var want []string
				for _, c := range tt.in.Config.Checks {
					want = append(want, c.Name)
				}
				if !reflect.DeepEqual(names, want) {
					t.Errorf("limit %d: walked %v, want %v", limit, names, want)
				}
			}
			// The single check keeps every result.
			for _, c := range tt.in.Config.Checks {
				_, data := get(t, srv, pathChecks+"/"+c.Name, nil)
				var doc struct{ Check map[string]json.RawMessage }
				if err := json.Unmarshal(data, &doc); err != nil {
					t.Fatal(err)
				}
				if got, want := len(recentOf(t, doc.Check)), len(recentOf(t, full[c.Name])); got != want {
					t.Errorf("%s: /api/v1/checks/{name} has %d results, the list %d", c.Name, got, want)
				}
			}
		})
	}
	// The bench checks have more than listRecent results: the bound bites.
	if n := len(bench.Checks[0].Recent); n <= listRecent {
		t.Fatalf("bench checks have %d results", n)
	}
}

// TestCheckPageErrors: a bad limit or cursor is a 400 naming it.
func TestCheckPageErrors(t *testing.T) {
	t.Parallel()
	in := benchInputs(t, 10)
	s := newTestServer(t, ServerOptions{}, &in)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	checks := s.Snapshot().checks
	// A cursor of other checks: one fewer.
	other := in
	other.Config = benchConfig(t, 9)
	otherCursor := mustBuild(t, other).checks.cursor(3)
	tests := []struct {
		name, query, want string
	}{
		{"limit not a number", "limit=ten", "limit: must be a whole number from 1 to 1000"},
		{"limit empty", "limit=", "limit: must be a whole number from 1 to 1000"},
		{"limit zero", "limit=0", "limit: must be a whole number from 1 to 1000"},
		{"limit negative", "limit=-3", "limit: must be a whole number from 1 to 1000"},
		{"limit too large", "limit=1001", "limit: must be a whole number from 1 to 1000"},
		{"limit fractional", "limit=2.5", "limit: must be a whole number from 1 to 1000"},
		{"cursor without limit", "cursor=" + checks.cursor(2), "limit: required with cursor, a whole number from 1 to 1000"},
		{"cursor empty", "limit=2&cursor=", "cursor: empty; leave it out for the first page"},
		{"cursor not base64", "limit=2&cursor=%21%21%21", "cursor: malformed; use next_cursor as a page gave it"},
		{"cursor too short", "limit=2&cursor=AAAA", "cursor: malformed; use next_cursor as a page gave it"},
		{"cursor trailing bytes", "limit=2&cursor=" + checks.cursor(2) + "AA", "cursor: malformed; use next_cursor as a page gave it"},
		{"cursor at the start", "limit=2&cursor=" + checks.cursor(0), "cursor: malformed; use next_cursor as a page gave it"},
		{"cursor past the end", "limit=2&cursor=" + checks.cursor(10), "cursor: malformed; use next_cursor as a page gave it"},
		{"cursor of other checks", "limit=2&cursor=" + otherCursor, "cursor: stale: the configured checks changed since it was given; start again without cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, data := get(t, srv, pathChecks+"?"+tt.query, nil)
			var body struct{ Error string }
			if err := json.Unmarshal(data, &body); err != nil {
				t.Fatalf("body %s: %v", data, err)
			}
			if resp.StatusCode != http.StatusBadRequest || body.Error != tt.want ||
				resp.Header.Get("Content-Type") != contentTypeJSON || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("?%s = %d %q %v, want 400 %q", tt.query, resp.StatusCode, body.Error, resp.Header, tt.want)
			}
		})
	}
}

// TestCheckCursorAcrossSnapshots: a cursor outlives the snapshot that gave
// it, and a replica with the same checks honours it; a reload that changes
// the checks makes it stale.
func TestCheckCursorAcrossSnapshots(t *testing.T) {
	t.Parallel()
	in := benchInputs(t, 6)
	s := newTestServer(t, ServerOptions{}, &in)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	_, data := get(t, srv, pathChecks+"?limit=4", nil)
	var first pageDoc
	if err := json.Unmarshal(data, &first); err != nil || first.NextCursor == nil {
		t.Fatalf("first page %s: %v", data, err)
	}
	next := pathChecks + "?limit=4&cursor=" + url.QueryEscape(*first.NextCursor)

	// A rebuild a second later, and a replica's build of the same checks
	// from its own config: the cursor goes on where it stopped.
	later := in
	later.Now = in.Now.Add(time.Second)
	later.Config = benchConfig(t, 6)
	s.Set(mustBuild(t, later))
	resp, data := get(t, srv, next, nil)
	var second pageDoc
	if err := json.Unmarshal(data, &second); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("second page = %d %s", resp.StatusCode, data)
	}
	if len(second.Checks) != 2 || nameOf(t, second.Checks[0]) != "check-00004" || second.NextCursor != nil {
		t.Errorf("second page: %d checks, next_cursor %v", len(second.Checks), second.NextCursor)
	}

	// A reload that adds a check.
	grown := in
	grown.Config = benchConfig(t, 7)
	s.Set(mustBuild(t, grown))
	resp, data = get(t, srv, next, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(data), "cursor: stale") {
		t.Errorf("after a reload = %d %s, want 400 stale", resp.StatusCode, data)
	}
}

// TestCheckPageServed: a page is served as the list is: ETag, 304, gzip,
// HEAD; made once per snapshot and page; the unpaged list is untouched.
func TestCheckPageServed(t *testing.T) {
	t.Parallel()
	in := benchInputs(t, 30)
	s := newTestServer(t, ServerOptions{}, &in)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	path := pathChecks + "?limit=20"
	identity := map[string]string{"Accept-Encoding": "identity"}
	plain, data := get(t, srv, path, identity)
	etag := plain.Header.Get("ETag")
	if plain.StatusCode != 200 || etag == "" || plain.Header.Get("Cache-Control") != "public, max-age=10" ||
		plain.Header.Get("Content-Length") != strconv.Itoa(len(data)) {
		t.Fatalf("GET %s = %d %v", path, plain.StatusCode, plain.Header)
	}
	// The transport gunzips by itself when it asked for gzip.
	gz, gzData := get(t, srv, path, nil)
	if !gz.Uncompressed || string(gzData) != string(data) {
		t.Errorf("gzip page: uncompressed %v, same body %v", gz.Uncompressed, string(gzData) == string(data))
	}
	again, body := get(t, srv, path, map[string]string{"If-None-Match": etag, "Accept-Encoding": "identity"})
	if again.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("conditional GET = %d", again.StatusCode)
	}
	checks := s.Snapshot().checks
	a, _ := checks.page(20, "")
	b, _ := checks.page(20, "")
	if a != b {
		t.Error("a page was made twice in one snapshot")
	}
	full, _, _ := s.Snapshot().Body(pathChecks)
	if len(full) <= len(data) || recentCount(t, full) != 30*benchRecent {
		t.Errorf("unpaged list: %d bytes, %d results; page %d bytes", len(full), recentCount(t, full), len(data))
	}
}

func recentCount(t *testing.T, data []byte) int {
	t.Helper()
	var doc pageDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range doc.Checks {
		n += len(recentOf(t, c))
	}
	return n
}

// checkPageShape is a page of the checks list: the list's shape, and a
// next_cursor on every page but the last.
var checkPageShape = obj(map[string]shape{"generated_at": timestamp(), "stale": boolean(), "checks": arr(checkShape),
	"next_cursor?": str()})

// TestCheckPageShapes walks every scenario's checks two at a time and
// holds each page to its shape.
func TestCheckPageShapes(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			checks := mustBuild(t, sc.in).checks
			cursor, n := "", 0
			for {
				b, err := checks.page(2, cursor)
				if err != nil {
					t.Fatal(err)
				}
				v := decode(t, b.bytes())
				for _, p := range checkPageShape(pathChecks, v) {
					t.Error(p)
				}
				n += len(v.(map[string]any)["checks"].([]any))
				next, ok := v.(map[string]any)["next_cursor"].(string)
				if !ok {
					break
				}
				cursor = next
			}
			if n != len(sc.in.Config.Checks) {
				t.Errorf("walked %d checks of %d", n, len(sc.in.Config.Checks))
			}
		})
	}
}

// TestCheckPagesCacheIsBounded: pages past maxCachedPages are served alike
// but not kept.
func TestCheckPagesCacheIsBounded(t *testing.T) {
	t.Parallel()
	in := benchInputs(t, 3)
	checks := mustBuild(t, in).checks
	for limit := 1; limit <= maxCachedPages+10; limit++ {
		b, err := checks.page(limit, "")
		if err != nil {
			t.Fatal(err)
		}
		if n, want := recentCount(t, b.bytes()), min(limit, 3)*listRecent; n != want {
			t.Fatalf("limit %d: %d results, want %d", limit, n, want)
		}
	}
	checks.mu.Lock()
	defer checks.mu.Unlock()
	if n := len(checks.pages); n != maxCachedPages {
		t.Errorf("%d pages kept, want %d", n, maxCachedPages)
	}
}
