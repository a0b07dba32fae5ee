package status

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsin/tocsin/internal/jsonhttp"
	"github.com/tocsin/tocsin/router"
	"github.com/tocsin/tocsin/uptime"
)

// ServerOptions configures a Server.
type ServerOptions struct {
	Logger *slog.Logger
	// Gatherer backs /metrics, with MetricsWriters after its families;
	// nil leaves /metrics unrouted.
	Gatherer       prometheus.Gatherer
	MetricsWriters []MetricsWriter
	// Ready reports readiness for /readyz; nil error means ready. Nil Ready
	// means ready once a snapshot is set.
	Ready func() error
	// CORSOrigins are the origins allowed to read; ["*"] (the default)
	// allows any.
	CORSOrigins []string
	// CacheMaxAge is the Cache-Control max-age of snapshot responses
	// (default 10s).
	CacheMaxAge time.Duration
}

// Server answers the read API from the latest snapshot. Handlers only load
// an atomic pointer: no request ever reaches the store.
type Server struct {
	log          *slog.Logger
	ready        func() error
	snap         atomic.Pointer[Snapshot]
	router       *router.Router
	cacheControl string
}

// NewServer returns a Server with every read route mounted. It serves 503
// until the first Set.
func NewServer(o ServerOptions) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CacheMaxAge <= 0 {
		o.CacheMaxAge = 10 * time.Second
	}
	s := &Server{
		log:   o.Logger,
		ready: o.Ready,
		// ETag for conditional requests, X-Tocsin-Stale to tell a stale
		// snapshot: what a status widget on another origin reads.
		router:       router.New(router.Options{CORSOrigins: o.CORSOrigins, ExposeHeaders: []string{"ETag", "X-Tocsin-Stale"}}),
		cacheControl: "public, max-age=" + strconv.Itoa(int(o.CacheMaxAge/time.Second)),
	}
	readMethods := []string{http.MethodGet, http.MethodHead}
	for _, p := range []string{pathStatus, pathSummary, pathComponents, pathIncidents, pathUnresolved,
		pathMaintenances, pathMaintUpcoming, pathMaintActive} {
		s.Handle(p, readMethods, s.snapshotHandler(p))
	}
	s.Handle("/{$}", readMethods, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := pathPage
		if r.URL.Query().Get("refresh") == "off" {
			path = pathPageStatic
		}
		s.serveSnapshot(w, r, path)
	}))
	s.Handle(pathHistory, readMethods, s.snapshotHandler(pathHistory))
	// A subtree, not /incidents/{id}: every path under it, an id with a
	// slash too, gets the HTML answer a person following a link expects.
	s.Handle(pathIncidentPrefix, readMethods, http.HandlerFunc(s.serveIncident))
	for _, p := range []string{pathHistoryAtom, pathHistoryRSS, pathBadge} {
		s.Handle(p, readMethods, s.snapshotHandler(p))
	}
	s.Handle(pathBadgePrefix+"{file}", readMethods, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveSnapshot(w, r, pathBadgePrefix+r.PathValue("file"))
	}))
	s.Handle(pathChecks, readMethods, http.HandlerFunc(s.serveChecks))
	s.Handle(pathChecks+"/{name}", readMethods, http.HandlerFunc(s.serveCheck))
	s.Handle(pathComponentsV1+"{id}/uptime", readMethods, http.HandlerFunc(s.serveUptime))
	s.Handle("/healthz", readMethods, http.HandlerFunc(serveHealth))
	s.Handle("/readyz", readMethods, http.HandlerFunc(s.serveReady))
	if o.Gatherer != nil {
		s.Handle("/metrics", readMethods, metricsHandler(o.Gatherer, s.log, o.MetricsWriters))
	}
	return s
}

// Set publishes a new snapshot to every later request.
func (s *Server) Set(snap *Snapshot) { s.snap.Store(snap) }

// Snapshot returns the snapshot being served, nil before the first Set.
func (s *Server) Snapshot() *Snapshot { return s.snap.Load() }

// Handler returns the full router: the read routes and whatever else was
// mounted on Router.
func (s *Server) Handler() http.Handler { return s.router }

// Router is the application's router the read routes are mounted on: the
// write API and the heartbeat endpoints mount theirs on it too.
func (s *Server) Router() *router.Router { return s.router }

// Handle mounts h at pattern for methods on the router (router.Router.Handle).
func (s *Server) Handle(pattern string, methods []string, h http.Handler) {
	s.router.Handle(pattern, methods, h)
}

func (s *Server) snapshotHandler(path string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveSnapshot(w, r, path)
	})
}

// serveChecks serves the checks list, whole or, with limit, a page of it
// (checkpage.go).
func (s *Server) serveChecks(w http.ResponseWriter, r *http.Request) {
	limit, cursor, paged, err := pageQuery(r.URL.Query())
	switch {
	case err != nil:
		jsonhttp.Error(w, http.StatusBadRequest, err.Error())
		return
	case !paged:
		s.serveSnapshot(w, r, pathChecks)
		return
	}
	snap := s.snap.Load()
	if snap == nil {
		serveStarting(w)
		return
	}
	b, err := snap.checks.page(limit, cursor)
	if err != nil {
		jsonhttp.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	s.serveBody(w, r, snap, b)
}

func (s *Server) serveCheck(w http.ResponseWriter, r *http.Request) {
	s.serveSnapshot(w, r, pathChecks+"/"+r.PathValue("name"))
}

// serveUptime serves a component's uptime history; days defaults to 90.
func (s *Server) serveUptime(w http.ResponseWriter, r *http.Request) {
	days := uptime.Days
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > uptime.Days {
			jsonhttp.Error(w, http.StatusBadRequest, fmt.Sprintf("days: must be a whole number from 1 to %d", uptime.Days))
			return
		}
		days = n
	}
	s.serveSnapshot(w, r, pathComponentsV1+r.PathValue("id")+uptimeQuery+strconv.Itoa(days))
}

// serveIncident serves an incident's page from the snapshot, and the HTML
// not-found page for an id without one, malformed ids included: they are
// checked before any lookup and never reach the snapshot's other bodies.
func (s *Server) serveIncident(w http.ResponseWriter, r *http.Request) {
	snap := s.snap.Load()
	if snap == nil {
		serveStarting(w)
		return
	}
	if id := strings.TrimPrefix(r.URL.Path, pathIncidentPrefix); validIncidentID(id) {
		b, ok, err := snap.body(pathIncidentPrefix + id)
		if err != nil {
			s.renderFailed(w, err)
			return
		}
		if ok {
			s.serveBody(w, r, snap, b)
			return
		}
	}
	if snap.pages == nil { // a snapshot without pages
		jsonhttp.Error(w, http.StatusNotFound, "not found")
		return
	}
	missing, err := snap.pages.notFound()
	if err != nil {
		s.renderFailed(w, err)
		return
	}
	h := w.Header()
	// Not cached: a notification's link can come before the snapshot
	// that holds its incident, a second later.
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Type", missing.contentType)
	h.Set("Content-Length", strconv.Itoa(missing.size))
	w.WriteHeader(http.StatusNotFound)
	if r.Method != http.MethodHead {
		_ = missing.write(w) // the client went away: nothing to do
	}
}

// renderFailed answers a request whose page could not be rendered. A
// template that fails fails for every snapshot: it is a bug, logged as
// one.
func (s *Server) renderFailed(w http.ResponseWriter, err error) {
	s.log.Error("status: rendering a page failed", "error", err)
	jsonhttp.Error(w, http.StatusInternalServerError, "the page could not be rendered")
}

func serveStarting(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	jsonhttp.Error(w, http.StatusServiceUnavailable, "starting")
}

func (s *Server) serveSnapshot(w http.ResponseWriter, r *http.Request, path string) {
	snap := s.snap.Load()
	if snap == nil {
		serveStarting(w)
		return
	}
	b, ok, err := snap.body(path)
	switch {
	case err != nil:
		s.renderFailed(w, err)
	case !ok:
		jsonhttp.Error(w, http.StatusNotFound, "not found")
	default:
		s.serveBody(w, r, snap, b)
	}
}

// serveBody serves one body of snap with its ETag, gzip variant and cache
// headers.
func (s *Server) serveBody(w http.ResponseWriter, r *http.Request, snap *Snapshot, b *body) {
	h := w.Header()
	h.Set("Cache-Control", s.cacheControl)
	h.Add("Vary", "Accept-Encoding")
	h.Set("X-Content-Type-Options", "nosniff")
	if snap.Stale {
		h.Set("X-Tocsin-Stale", "true")
	}
	etag, gzETag := b.tags()
	if tag, ok := matchETag(r.Header.Get("If-None-Match"), etag, gzETag); ok {
		h.Set("ETag", tag)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	var gz []byte
	if gzETag != "" && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		gz = b.gzipped()
	}
	size, tag := b.size, etag
	if gz != nil {
		size, tag = len(gz), gzETag
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("ETag", tag)
	h.Set("Content-Type", b.contentType)
	h.Set("Content-Length", strconv.Itoa(size))
	w.WriteHeader(http.StatusOK)
	switch {
	case r.Method == http.MethodHead:
	case gz != nil:
		_, _ = w.Write(gz)
	default:
		_ = b.write(w) // the client went away: nothing to do
	}
}

func serveHealth(w http.ResponseWriter, _ *http.Request) {
	jsonhttp.Write(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	var msg string
	switch {
	case s.snap.Load() == nil:
		msg = "no snapshot yet"
	case s.ready != nil:
		if err := s.ready(); err != nil {
			msg = err.Error()
		}
	}
	if msg != "" {
		s.log.Debug("status: not ready", "error", msg)
		jsonhttp.Write(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "error": msg})
		return
	}
	jsonhttp.Write(w, http.StatusOK, map[string]string{"status": "ready"})
}

// matchETag reports which of the current tags If-None-Match names (weak
// comparison, as RFC 9110 prescribes for If-None-Match).
func matchETag(header string, tags ...string) (string, bool) {
	if header == "" {
		return "", false
	}
	for _, cand := range strings.Split(header, ",") {
		cand = strings.TrimPrefix(strings.TrimSpace(cand), "W/")
		if cand == "*" {
			return tags[0], true
		}
		for _, t := range tags {
			if t != "" && cand == t {
				return t, true
			}
		}
	}
	return "", false
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q, found := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		if !found {
			return true
		}
		v, err := strconv.ParseFloat(q, 64)
		return err == nil && v > 0
	}
	return false
}
