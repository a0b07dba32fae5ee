// Package api serves the write API people use to run incidents (docs/operations.md):
// a manual incident, an update, resolve and rename. Every route is POST
// with a JSON body and needs "Authorization: Bearer <token>".
package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/internal/jsonhttp"
	"github.com/tocsin/tocsin/router"
)

// MaxBodyBytes bounds a request body; a larger one gets 413.
const MaxBodyBytes = 64 << 10

// ResolvedBody is the update a resolve without a body adds.
const ResolvedBody = "This incident has been resolved."

// The routes Mount adds, all for POST.
const (
	PathIncidents = "/api/v1/incidents"
	PathUpdates   = "/api/v1/incidents/{id}/updates"
	PathResolve   = "/api/v1/incidents/{id}/resolve"
	PathName      = "/api/v1/incidents/{id}/name"
)

// Handler serves the write API over a HumanStore.
type Handler struct {
	store incident.HumanStore
	token func() string
	now   func() time.Time
	log   *slog.Logger
}

// New returns the write API. token returns the API token in force and is
// called on every request, so a reload takes effect at once; an empty token
// disables the API (403). now stamps the actions (nil: time.Now). Nothing of
// a request is logged but the action, the incident id and errors.
func New(store incident.HumanStore, token func() string, now func() time.Time, logger *slog.Logger) *Handler {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{store: store, token: token, now: now, log: logger}
}

// Mount adds the routes to s, for POST:
//
//	POST /api/v1/incidents               {name, status?, body, components?, impact?}  201
//	POST /api/v1/incidents/{id}/updates  {status, body}                                 200
//	POST /api/v1/incidents/{id}/resolve  {body?}                                        200
//	POST /api/v1/incidents/{id}/name     {name}                                         200
//
// Each answers with the incident as JSON.
func (h *Handler) Mount(s *router.Router) {
	post := []string{http.MethodPost}
	s.Handle(PathIncidents, post, h.action(h.create))
	s.Handle(PathUpdates, post, h.action(h.update))
	s.Handle(PathResolve, post, h.action(h.resolve))
	s.Handle(PathName, post, h.action(h.rename))
}

// problem is a client error: an HTTP status and a message for the body.
type problem struct {
	code int
	msg  string
}

func (p *problem) Error() string { return p.msg }

func invalid(err error) *problem { return &problem{http.StatusUnprocessableEntity, err.Error()} }

// actionFunc does one action; it returns the status code and incident of
// success, or an error: a *problem, or a store error.
type actionFunc func(w http.ResponseWriter, r *http.Request, at time.Time) (int, incident.Incident, error)

// action wraps f with the token check and the mapping of errors to JSON.
func (h *Handler) action(f actionFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.authorized(w, r) {
			return
		}
		code, inc, err := f(w, r, h.now())
		var p *problem
		switch {
		case err == nil:
			h.log.Info("api: incident action", "path", r.Pattern, "incident", inc.ID, "status", string(inc.Status))
			jsonhttp.Write(w, code, inc)
		case errors.As(err, &p):
			jsonhttp.Error(w, p.code, p.msg)
		case errors.Is(err, incident.ErrNotFound):
			jsonhttp.Error(w, http.StatusNotFound, fmt.Sprintf("unknown incident %q", r.PathValue("id")))
		default:
			h.log.Warn("api: incident action failed", "path", r.Pattern, "incident", r.PathValue("id"), "error", err)
			w.Header().Set("Retry-After", "5")
			jsonhttp.Error(w, http.StatusServiceUnavailable, "store unavailable")
		}
	})
}

// authorized answers 403 when no token is configured and 401 for a missing
// or wrong one, and reports whether the request may go on.
func (h *Handler) authorized(w http.ResponseWriter, r *http.Request) bool {
	want := h.token()
	if want == "" {
		jsonhttp.Error(w, http.StatusForbidden, "write API disabled: set server.api_token or api_token_file")
		return false
	}
	got, ok := bearer(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tocsin"`)
		jsonhttp.Error(w, http.StatusUnauthorized, "missing token (send Authorization: Bearer <token>)")
		return false
	}
	// Hashing first makes the comparison's time independent of the lengths.
	g, t := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	if subtle.ConstantTimeCompare(g[:], t[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tocsin", error="invalid_token"`)
		jsonhttp.Error(w, http.StatusUnauthorized, "invalid token")
		return false
	}
	return true
}

func bearer(r *http.Request) (string, bool) {
	scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	cred = strings.TrimSpace(cred)
	return cred, cred != ""
}

// decode reads one JSON object of at most MaxBodyBytes into v, rejecting
// unknown fields and trailing data. An empty body is allowed only if
// optional.
func decode(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	defer body.Close()
	d := json.NewDecoder(body)
	d.DisallowUnknownFields()
	err := d.Decode(v)
	if errors.Is(err, io.EOF) && optional {
		return nil
	}
	if err == nil {
		if _, extra := d.Token(); !errors.Is(extra, io.EOF) {
			err = errors.New("data after the JSON object")
			if extra != nil {
				err = extra
			}
		}
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooBig):
		return &problem{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", MaxBodyBytes)}
	case errors.Is(err, io.EOF):
		return &problem{http.StatusBadRequest, "empty request body: want a JSON object"}
	}
	return &problem{http.StatusBadRequest, "bad JSON body: " + err.Error()}
}
