// Package router is the application's HTTP router: the read API (status),
// the write API (api) and the heartbeat endpoints (heartbeat) each mount
// their routes on one Router, which adds what every response shares: CORS,
// a JSON 404 for an unknown path and a JSON 405, with Allow, for a known
// path and a method it does not take.
package router

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/tocsin/tocsin/internal/jsonhttp"
)

// Options configure a Router.
type Options struct {
	// CORSOrigins are the origins allowed to read; ["*"] (the default)
	// allows any.
	CORSOrigins []string
	// ExposeHeaders are the response headers a browser lets an allowed
	// origin's script read.
	ExposeHeaders []string
}

// Router dispatches requests by pattern and method. Safe for concurrent
// use, routes added while serving too.
type Router struct {
	mux       *http.ServeMux
	mu        sync.Mutex // guards routes
	routes    map[string]*route
	anyOrigin bool
	origins   []string
	expose    string
}

// New returns a Router with no routes.
func New(o Options) *Router {
	if len(o.CORSOrigins) == 0 {
		o.CORSOrigins = []string{"*"}
	}
	return &Router{
		mux:       http.NewServeMux(),
		routes:    map[string]*route{},
		anyOrigin: slices.Contains(o.CORSOrigins, "*"),
		origins:   slices.Clone(o.CORSOrigins),
		expose:    strings.Join(o.ExposeHeaders, ", "),
	}
}

// Handle mounts h at pattern for the given methods; OPTIONS (CORS
// preflight) is answered for it and a method not mounted gets a JSON 405
// with Allow. pattern is a net/http ServeMux pattern without a method
// ("/api/v1/incidents/{id}"); calling Handle again with the same pattern
// adds methods to it. It panics, like ServeMux.Handle, on a method already
// mounted at pattern or a pattern conflicting with another.
func (rr *Router) Handle(pattern string, methods []string, h http.Handler) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rt, ok := rr.routes[pattern]
	if !ok {
		rt = &route{handlers: map[string]http.Handler{}}
		rr.mux.Handle(pattern, rt)
		rr.routes[pattern] = rt
	}
	rt.add(pattern, methods, h)
}

// ServeHTTP serves a request: CORS on every response, JSON 404 for an
// unknown path.
func (rr *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rr.cors(w, r)
	if _, pattern := rr.mux.Handler(r); pattern == "" {
		jsonhttp.Error(w, http.StatusNotFound, "not found")
		return
	}
	rr.mux.ServeHTTP(w, r)
}

// route dispatches one pattern by method. The method check is done here, not
// by ServeMux method patterns, so that a wrong method gets a JSON 405.
type route struct {
	mu       sync.RWMutex
	handlers map[string]http.Handler
	methods  []string
	allow    string
}

func (rt *route) add(pattern string, methods []string, h http.Handler) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, m := range methods {
		if _, dup := rt.handlers[m]; dup || m == http.MethodOptions {
			panic(fmt.Sprintf("router: %s %s is already handled", m, pattern))
		}
		rt.handlers[m] = h
		rt.methods = append(rt.methods, m)
	}
	rt.allow = strings.Join(append(slices.Clone(rt.methods), http.MethodOptions), ", ")
}

func (rt *route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt.mu.RLock()
	h, allow := rt.handlers[r.Method], rt.allow
	rt.mu.RUnlock()
	switch {
	case r.Method == http.MethodOptions:
		hd := w.Header()
		hd.Set("Allow", allow)
		hd.Set("Access-Control-Allow-Methods", allow)
		hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-None-Match")
		hd.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
	case h == nil:
		w.Header().Set("Allow", allow)
		jsonhttp.Error(w, http.StatusMethodNotAllowed, "method not allowed")
	default:
		h.ServeHTTP(w, r)
	}
}

// cors allows the configured origins to read the response.
func (rr *Router) cors(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	origin := r.Header.Get("Origin")
	switch {
	case rr.anyOrigin:
		h.Set("Access-Control-Allow-Origin", "*")
	case origin != "" && slices.Contains(rr.origins, origin):
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	default:
		return
	}
	if rr.expose != "" {
		h.Set("Access-Control-Expose-Headers", rr.expose)
	}
}
