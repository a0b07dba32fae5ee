package queue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/probetest"
	"github.com/tocsin/tocsin/probe"
)

// readQueueSource reads src once with a deadline of d.
func readQueueSource(t *testing.T, src QueueSource, d time.Duration) (QueueSample, context.Context, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	s, err := src.Read(ctx)
	return s, ctx, err
}

// sourceReason is the Reason and message the queue prober gets from a
// source's error: a *SourceError's own, or the classified network error.
func sourceReason(ctx context.Context, err error) (probe.Reason, string) {
	var se *SourceError
	if errors.As(err, &se) {
		return se.Reason, se.Message
	}
	return probe.Classify(ctx, err)
}

// mustQueueSource builds a source with build or fails the test.
func mustQueueSource(t *testing.T, build func(config.QueueCheck, probe.Options) (QueueSource, error), q config.QueueCheck) QueueSource {
	t.Helper()
	src, err := build(q, probe.Options{})
	if err != nil {
		t.Fatalf("build source: %v", err)
	}
	return src
}

// jsonServer serves body with status at every path.
func jsonServer(t *testing.T, status int, body string) string {
	t.Helper()
	return probetest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}), nil).URL
}

func TestHTTPJSONSource(t *testing.T) {
	t.Parallel()
	const doc = `{"queues": {"mail": {"depth": 1234, "name": "mail"}, "big": {"depth": "  99 "}},
		"items": [{"size": 3}, {"size": 4.5}], "a.b": {"c": 7}, "neg": -2, "bad": "N/A"}`
	tests := []struct {
		name       string
		status     int
		body       string
		path       string
		want       float64
		wantReason probe.Reason
		wantMsg    string
	}{
		{name: "number", body: `{"depth": 12}`, path: "depth", want: 12},
		{name: "nested path", body: doc, path: "queues.mail.depth", want: 1234},
		{name: "array index", body: doc, path: "items.1.size", want: 4.5},
		{name: "numeric string", body: doc, path: "queues.big.depth", want: 99},
		{name: "escaped dot", body: doc, path: `a\.b.c`, want: 7},
		{name: "bare number", body: "42\n", path: "", want: 42},
		{name: "201 counts as success", status: 201, body: `{"n": 1}`, path: "n", want: 1},
		{name: "missing path", body: doc, path: "queues.sms.depth", wantReason: probe.ReasonProtocol,
			wantMsg: `json_path "queues.sms.depth": no key "sms" in the object at "queues"`},
		{name: "index out of range", body: doc, path: "items.2.size", wantReason: probe.ReasonProtocol,
			wantMsg: `index 2 is out of range: the array at "items" has 2 elements`},
		{name: "not a number", body: doc, path: "queues.mail.name", wantReason: probe.ReasonProtocol,
			wantMsg: `json_path "queues.mail.name": the value at "queues.mail.name" is a string ("mail") that is not a number`},
		{name: "object, not a number", body: doc, path: "queues.mail", wantReason: probe.ReasonProtocol,
			wantMsg: `the value at "queues.mail" is an object, not a number`},
		{name: "negative", body: doc, path: "neg", wantReason: probe.ReasonProtocol, wantMsg: "-2 is negative"},
		{name: "not JSON", body: "<html>oops</html>", path: "depth", wantReason: probe.ReasonProtocol,
			wantMsg: "response is not JSON: invalid character '<'"},
		{name: "trailing garbage", body: `{"depth": 1} x`, path: "depth", wantReason: probe.ReasonProtocol,
			wantMsg: "data after the JSON value"},
		{name: "empty body", body: "", path: "depth", wantReason: probe.ReasonProtocol, wantMsg: "empty body"},
		{name: "500", status: 500, body: `{"depth": 1}`, path: "depth", wantReason: probe.ReasonProtocol,
			wantMsg: "unexpected HTTP status 500 Internal Server Error"},
		{name: "403", status: 403, body: `{}`, path: "depth", wantReason: probe.ReasonAuth, wantMsg: "HTTP 403 Forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status := tt.status
			if status == 0 {
				status = http.StatusOK
			}
			url := jsonServer(t, status, tt.body)
			src := mustQueueSource(t, newHTTPJSONSource, config.QueueCheck{URL: config.Secret(url), JSONPath: tt.path})
			got, ctx, err := readQueueSource(t, src, 5*time.Second)
			if tt.wantReason == probe.ReasonNone {
				if err != nil || got.Depth != tt.want {
					t.Fatalf("Read = %+v, %v; want depth %v", got, err, tt.want)
				}
				return
			}
			reason, msg := sourceReason(ctx, err)
			if reason != tt.wantReason || !strings.Contains(msg, tt.wantMsg) {
				t.Fatalf("Read error = %v (%s: %q); want %s containing %q", err, reason, msg, tt.wantReason, tt.wantMsg)
			}
		})
	}
}

func TestHTTPJSONSourceRequest(t *testing.T) {
	t.Parallel()
	reqs := make(chan *http.Request, 1)
	srv := probetest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs <- r.Clone(context.Background())
		fmt.Fprint(w, `{"q": [5]}`)
	}), nil)
	src := mustQueueSource(t, newHTTPJSONSource, config.QueueCheck{
		URL: config.Secret(srv.URL + "/stats?x=1"), JSONPath: "q.0", Username: "tocsin", Password: "s3cret-pass"})
	if s, _, err := readQueueSource(t, src, 5*time.Second); err != nil || s.Depth != 5 {
		t.Fatalf("Read = %+v, %v; want 5", s, err)
	}
	got := <-reqs
	user, pass, ok := got.BasicAuth()
	if !ok || user != "tocsin" || pass != "s3cret-pass" {
		t.Errorf("basic auth = %q, %q, %v; want tocsin, s3cret-pass", user, pass, ok)
	}
	if a := got.Header.Get("Accept"); a != "application/json" {
		t.Errorf("Accept = %q, want application/json", a)
	}
	if got.URL.Path != "/stats" || got.URL.RawQuery != "x=1" {
		t.Errorf("request URI = %s, want /stats?x=1", got.URL)
	}
	if s := fmt.Sprint(src); strings.Contains(s, "s3cret") || strings.Contains(s, "x=1") {
		t.Errorf("source prints as %q, with a credential or the query", s)
	}
}

// authServer answers 401 unless the request carries user:pass.
func authServer(t *testing.T, user, pass, body string) string {
	t.Helper()
	return probetest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="queues"`)
			http.Error(w, "bad credentials for "+u+":"+p, http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, body)
	}), nil).URL
}

func TestHTTPJSONSourceAuth(t *testing.T) {
	t.Parallel()
	const wrong = "wrong-password-42"
	base := authServer(t, "ops", "right-password", `{"depth": 3}`)
	hostport := strings.TrimPrefix(base, "http://")
	tests := []struct {
		name string
		q    config.QueueCheck
		want probe.Reason
	}{
		{name: "right credentials", q: config.QueueCheck{URL: config.Secret(base), Username: "ops", Password: "right-password"}},
		{name: "credentials in the URL", q: config.QueueCheck{URL: config.Secret("http://ops:right-password@" + hostport + "/")}},
		{name: "wrong password", q: config.QueueCheck{URL: config.Secret(base), Username: "ops", Password: wrong}, want: probe.ReasonAuth},
		{name: "wrong password in the URL", q: config.QueueCheck{URL: config.Secret("http://ops:" + wrong + "@" + hostport + "/")}, want: probe.ReasonAuth},
		{name: "no credentials", q: config.QueueCheck{URL: config.Secret(base)}, want: probe.ReasonAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.q.JSONPath = "depth"
			src := mustQueueSource(t, newHTTPJSONSource, tt.q)
			got, ctx, err := readQueueSource(t, src, 5*time.Second)
			reason, msg := sourceReason(ctx, err)
			if reason != tt.want || (tt.want == probe.ReasonNone && got.Depth != 3) {
				t.Fatalf("Read = %+v, %v; want reason %q", got, err, tt.want)
			}
			for _, out := range []string{msg, fmt.Sprint(err), fmt.Sprint(src), fmt.Sprintf("%+v", src)} {
				if strings.Contains(out, wrong) || strings.Contains(out, "right-password") {
					t.Errorf("output %q holds a password", out)
				}
			}
		})
	}
}

func TestHTTPJSONSourceNetwork(t *testing.T) {
	t.Parallel()
	stall := make(chan struct{})
	t.Cleanup(func() { close(stall) })
	slow := probetest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}), nil)
	tests := []struct {
		name string
		url  string
		want probe.Reason
	}{
		{name: "server down", url: "http://" + probetest.DeadPort(t) + "/", want: probe.ReasonConnect},
		{name: "no answer in time", url: slow.URL, want: probe.ReasonTimeout},
		{name: "closed without a response", url: "http://" + probetest.RawServer(t, func(c net.Conn) {
			buf := make([]byte, 512)
			_, _ = c.Read(buf)
			c.Close()
		}) + "/", want: probe.ReasonProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := mustQueueSource(t, newHTTPJSONSource, config.QueueCheck{
				URL: config.Secret(tt.url), JSONPath: "depth", Username: "ops", Password: "hunter2-pass"})
			start := time.Now()
			_, ctx, err := readQueueSource(t, src, 500*time.Millisecond)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("Read took %s with a 500ms deadline", took)
			}
			reason, msg := sourceReason(ctx, err)
			if reason != tt.want {
				t.Fatalf("Read error = %v (%s: %q), want %s", err, reason, msg, tt.want)
			}
			if strings.Contains(msg+err.Error(), "hunter2") {
				t.Errorf("error %q holds the password", err)
			}
		})
	}
}

func TestHTTPJSONSourceHugeBody(t *testing.T) {
	t.Parallel()
	var written int
	srv := probetest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(`{"pad": "` + strings.Repeat("x", 64<<10))
		for written < 64<<20 { // stops once the client hangs up
			n, err := w.Write(chunk)
			written += n
			if err != nil {
				return
			}
		}
	}), nil)
	src := mustQueueSource(t, newHTTPJSONSource, config.QueueCheck{URL: config.Secret(srv.URL), JSONPath: "depth"})
	_, ctx, err := readQueueSource(t, src, 5*time.Second)
	reason, msg := sourceReason(ctx, err)
	if reason != probe.ReasonProtocol || !strings.Contains(msg, "larger than 1048576 bytes") {
		t.Fatalf("Read error = %v, want protocol: response body larger than 1048576 bytes", err)
	}
}

func TestHTTPJSONSourceTLS(t *testing.T) {
	t.Parallel()
	cert := probetest.NewCert(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	srv := probetest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"depth": 8}`)
	}), &cert.Cert)
	trusted := mustQueueSource(t, newHTTPJSONSource, config.QueueCheck{
		URL: config.Secret(srv.URL), JSONPath: "depth", TLSConfig: config.TLS{CAFile: cert.PEMFile}})
	if s, _, err := readQueueSource(t, trusted, 5*time.Second); err != nil || s.Depth != 8 {
		t.Errorf("with ca_file: Read = %+v, %v; want 8", s, err)
	}
	untrusted := mustQueueSource(t, newHTTPJSONSource, config.QueueCheck{URL: config.Secret(srv.URL), JSONPath: "depth"})
	_, ctx, err := readQueueSource(t, untrusted, 5*time.Second)
	if reason, _ := sourceReason(ctx, err); reason != probe.ReasonTLS {
		t.Errorf("without ca_file: Read error = %v, want tls", err)
	}
}

func TestHTTPJSONSourceConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		q    config.QueueCheck
		want []string
	}{
		{name: "no url", q: config.QueueCheck{JSONPath: "a"}, want: []string{"queue.url: is required"}},
		{name: "not http", q: config.QueueCheck{URL: "ftp://secret-token@host/x", JSONPath: "a"},
			want: []string{"queue.url: must be an absolute http:// or https:// URL"}},
		{name: "bad path and url", q: config.QueueCheck{URL: "/relative", JSONPath: "a..b"},
			want: []string{"queue.url: must be", "queue.json_path: empty key at byte 2"}},
		{name: "bad escape", q: config.QueueCheck{URL: "http://h/", JSONPath: `a\b`},
			want: []string{`queue.json_path: invalid escape at byte 1: only \. and \\ are allowed`}},
		{name: "credentials twice", q: config.QueueCheck{URL: "http://u:secret-token@h/", Username: "u", JSONPath: "a"},
			want: []string{"queue.url: credentials in the URL cannot be combined with queue.username"}},
		{name: "missing password file", q: config.QueueCheck{URL: "http://h/", PasswordFile: "/nonexistent/pw", JSONPath: "a"},
			want: []string{"queue.password_file: open /nonexistent/pw"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newHTTPJSONSource(tt.q, probe.Options{})
			if err == nil {
				t.Fatal("newHTTPJSONSource succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secret-token") {
				t.Errorf("error %q holds the URL's credentials", err)
			}
		})
	}
}

func TestHTTPJSONSourceScrub(t *testing.T) {
	t.Parallel()
	// A server that echoes the URL's token where the number should be.
	srv := jsonServer(t, http.StatusOK, `{"depth": "tok-1234567890"}`)
	src := mustQueueSource(t, newHTTPJSONSource, config.QueueCheck{
		URL: config.Secret(srv + "/?format=json&token=tok-1234567890"), JSONPath: "depth"})
	_, ctx, err := readQueueSource(t, src, 5*time.Second)
	reason, msg := sourceReason(ctx, err)
	want := `json_path "depth": the value at "depth" is a string ("<redacted>") that is not a number`
	if reason != probe.ReasonProtocol || msg != want {
		t.Fatalf("Read error = %v (%s: %q), want protocol: %q", err, reason, msg, want)
	}
}
