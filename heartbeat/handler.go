package heartbeat

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/jsonhttp"
)

// MaxBodyBytes bounds a beat's request body. The body (a job's output, say)
// is read and discarded, never stored, but for a /log's first MaxLogBytes;
// a larger one gets 413 and the beat is not recorded, so that the sender
// sees the failure (curl --fail).
const MaxBodyBytes = 10 << 10

// Methods are the methods a beat may use, as Healthchecks.io takes them:
// a cron line's "curl -fsS URL" is a GET.
func Methods() []string { return []string{http.MethodGet, http.MethodHead, http.MethodPost} }

// Handler takes beats for the heartbeat checks of the current config. Mount
// it for Methods() at "/api/v1/heartbeats/{check}" (a success) and
// "/api/v1/heartbeats/{check}/{kind}" (kind fail, start, an exit status:
// 0 a success, 1-255 a failure, or log: a message that changes no state);
// it reads the check and kind with r.PathValue.
//
// A check with a token needs it on every beat, as "Authorization: Bearer
// <token>" or, for a plain cron line, as "?token=<token>". The query form
// is convenient but ends up in the access logs of every proxy on the way;
// prefer the header where the client can send one.
type Handler struct {
	store  Beater
	checks func() map[string]config.HeartbeatCheck
	now    func() time.Time
	log    *slog.Logger
}

// NewHandler returns the beat handler. checks returns the heartbeat checks
// of the config in force, by name; it is called on every request, so a
// reload takes effect at once. now stamps the beats (nil: time.Now).
// Nothing is logged of the request but the check, the kind and errors: never
// the token, the URL (which may carry it) or the body.
func NewHandler(store Beater, checks func() map[string]config.HeartbeatCheck, now func() time.Time, logger *slog.Logger) http.Handler {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{store: store, checks: checks, now: now, log: logger}
}

// ServeHTTP records one beat: 200 {"ok":true} once it is stored (a HEAD
// gets the status alone), 404 for an
// unknown check or kind, 401 for a missing or wrong token, 413 for a body
// over MaxBodyBytes and 503 when the store can't take it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !slices.Contains(Methods(), r.Method) {
		// router.Router answers this itself; this is for other routers.
		w.Header().Set("Allow", strings.Join(Methods(), ", "))
		jsonhttp.Error(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	name := r.PathValue("check")
	c, ok := h.checks()[name]
	if !ok {
		jsonhttp.Error(w, http.StatusNotFound, fmt.Sprintf("unknown heartbeat check %q", name))
		return
	}
	kind, ok := kindOf(r.PathValue("kind"))
	if !ok {
		jsonhttp.Error(w, http.StatusNotFound, fmt.Sprintf("unknown heartbeat kind %q (want fail, start, log or an exit status 0-255)", r.PathValue("kind")))
		return
	}
	if want := c.Token.Reveal(); want != "" {
		got, found := token(r)
		if !found {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tocsin"`)
			jsonhttp.Error(w, http.StatusUnauthorized, "missing token (send Authorization: Bearer <token>)")
			return
		}
		if !equalToken(got, want) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tocsin", error="invalid_token"`)
			jsonhttp.Error(w, http.StatusUnauthorized, "invalid token")
			return
		}
	}
	keep := 0
	if kind == Log {
		keep = MaxLogBytes
	}
	head, code, msg := readBody(w, r, keep)
	if code != 0 {
		jsonhttp.Error(w, code, msg)
		return
	}
	at := h.now()
	var err error
	if kind == Log {
		err = h.store.Log(r.Context(), name, at, logMessage(head))
	} else {
		err = h.store.Beat(r.Context(), name, kind, at)
	}
	if err != nil {
		// Not stored is not accepted: the sender must see it (and retry).
		h.log.Warn("heartbeat: beat not stored", "check", name, "kind", string(kind), "error", err)
		w.Header().Set("Retry-After", "5")
		jsonhttp.Error(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	h.log.Debug("heartbeat: beat", "check", name, "kind", string(kind))
	jsonhttp.Write(w, http.StatusOK, map[string]bool{"ok": true})
}

// kindOf maps the path's {kind} to a Kind; "" (no kind segment) is a
// success, and so is exit status 0 ("curl URL/$?" after a job); 1-255 is a
// failure.
func kindOf(s string) (Kind, bool) {
	switch s {
	case "":
		return Success, true
	case string(Fail):
		return Fail, true
	case string(Start):
		return Start, true
	case string(Log):
		return Log, true
	}
	if len(s) > 3 || strings.Trim(s, "0123456789") != "" {
		return "", false
	}
	switch code, err := strconv.Atoi(s); {
	case err != nil || code > 255:
		return "", false
	case code == 0:
		return Success, true
	}
	return Fail, true
}

// token returns the token a request carries: the Authorization header's
// Bearer credentials if there is such a header, else the token query
// parameter.
func token(r *http.Request) (string, bool) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, cred, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", false
		}
		cred = strings.TrimSpace(cred)
		return cred, cred != ""
	}
	if q := r.URL.Query(); q.Has("token") {
		return q.Get("token"), q.Get("token") != ""
	}
	return "", false
}

// equalToken compares in constant time. Hashing first makes the time
// independent of the lengths too.
func equalToken(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// MaxLogBytes bounds the message a /log keeps: the start of the body.
const MaxLogBytes = 1 << 10

// readBody reads the body up to MaxBodyBytes and returns its first
// keep bytes (0: none). It returns a status code and message for a body
// that is too large or unreadable, 0 if all went well.
func readBody(w http.ResponseWriter, r *http.Request, keep int) ([]byte, int, string) {
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	defer body.Close()
	var head bytes.Buffer
	_, err := io.Copy(io.Discard, io.TeeReader(body, limitWriter{&head, keep}))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", MaxBodyBytes)
		}
		return nil, http.StatusBadRequest, "could not read the request body"
	}
	return head.Bytes(), 0, ""
}

// limitWriter keeps the first n bytes written to it and drops the rest.
type limitWriter struct {
	buf *bytes.Buffer
	n   int
}

func (l limitWriter) Write(p []byte) (int, error) {
	if room := l.n - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// logMessage is the text a /log keeps: valid UTF-8, without control
// characters but line breaks and tabs, trimmed.
func logMessage(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}
