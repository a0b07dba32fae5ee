package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// chromiumTimeout bounds one headless Chromium run.
const chromiumTimeout = 60 * time.Second

// chromiumBinary finds Debian's chromium. In CI (scripts/test installs it) a
// missing browser fails the test; elsewhere it skips.
func chromiumBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium not installed (scripts/test installs it): %v", err)
		}
		t.Skipf("chromium not installed: %v", err)
	}
	return bin
}

// dumpDOM loads pageURL in headless Chromium and returns the DOM as the
// browser serializes it after the page has run.
func dumpDOM(t *testing.T, pageURL string) string {
	t.Helper()
	return string(runChromium(t, pageURL, "--dump-dom"))
}

// screenshot loads pageURL in a width x height window and writes a PNG.
func screenshot(t *testing.T, pageURL, file string, width, height int) {
	t.Helper()
	runChromium(t, pageURL, "--screenshot="+file, fmt.Sprintf("--window-size=%d,%d", width, height))
	if fi, err := os.Stat(file); err != nil || fi.Size() == 0 {
		t.Fatalf("chromium wrote no screenshot %s: %v", file, err)
	}
}

// runChromium runs one headless Chromium with its own throwaway profile and
// returns its stdout. Chromium logs noise (D-Bus, GPU) to stderr; it is
// shown only when the run fails. The browser runs in a process group of its
// own, killed whole on timeout and after exit, so no renderer or crashpad
// handler outlives the test.
func runChromium(t *testing.T, pageURL string, args ...string) []byte {
	t.Helper()
	requireLoopback(t, pageURL)
	bin := chromiumBinary(t)
	ctx, cancel := context.WithTimeout(t.Context(), chromiumTimeout)
	defer cancel()
	argv := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=5000",
	}, args...)
	cmd := exec.CommandContext(ctx, bin, append(argv, pageURL)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	_ = killGroup(cmd) // stragglers; the group is empty when Chromium cleaned up
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (after %s)", ctx.Err(), time.Since(start).Round(time.Millisecond))
		}
		t.Fatalf("chromium %s %s: %v\nstderr:\n%s", strings.Join(args, " "), pageURL, err, tail(stderr.String(), 4000))
	}
	return stdout.Bytes()
}

// killGroup sends SIGKILL to the process group cmd leads.
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// requireLoopback keeps the browser on this machine: the tests load only
// pages served by their own processes.
func requireLoopback(t *testing.T, pageURL string) {
	t.Helper()
	u, err := url.Parse(pageURL)
	if err != nil {
		t.Fatalf("page url %q: %v", pageURL, err)
	}
	if ip := net.ParseIP(u.Hostname()); (u.Scheme != "http" && u.Scheme != "https") || ip == nil || !ip.IsLoopback() {
		t.Fatalf("page url %q: want http(s) on a loopback address", pageURL)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// artifactDir is where a test writes files for people to look at after the
// run: $TOCSIN_TEST_ARTIFACTS/<Test> when set (CI uploads it), else
// $TMPDIR/tocsin-artifacts/<Test>. It outlives the test on purpose.
func artifactDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("TOCSIN_TEST_ARTIFACTS")
	if base == "" {
		base = filepath.Join(os.TempDir(), "tocsin-artifacts")
	}
	name, _, _ := strings.Cut(t.Name(), "/")
	dir := filepath.Join(base, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// domNode is an element or a text node of a page as Chromium serialized it.
type domNode struct {
	tag      string // lower case; "" for text
	attrs    map[string]string
	text     string // text nodes only, unescaped
	children []*domNode
	parent   *domNode
}

// parseDOM parses the output of --dump-dom with golang.org/x/net/html, the
// HTML5 parsing algorithm browsers use, into the small tree the assertions
// walk.
func parseDOM(s string) *domNode {
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		// html.Parse only fails on read errors, and a string reader has none.
		panic(err)
	}
	return convert(doc, nil)
}

func convert(h *html.Node, parent *domNode) *domNode {
	n := &domNode{parent: parent}
	switch h.Type {
	case html.TextNode:
		n.text = h.Data
		return n
	case html.DocumentNode:
		n.tag = "#document"
	case html.ElementNode:
		n.tag = h.Data
	default: // comments, doctype
		return nil
	}
	n.attrs = make(map[string]string, len(h.Attr))
	for _, a := range h.Attr {
		n.attrs[a.Key] = a.Val
	}
	for c := h.FirstChild; c != nil; c = c.NextSibling {
		if cn := convert(c, n); cn != nil {
			n.children = append(n.children, cn)
		}
	}
	return n
}

// hasClass reports whether the element's class list holds c.
func (n *domNode) hasClass(c string) bool {
	return slices.Contains(strings.Fields(n.attrs["class"]), c)
}

// all returns the descendants of n (not n) that match, in document order.
func (n *domNode) all(match func(*domNode) bool) []*domNode {
	var out []*domNode
	for _, c := range n.children {
		if c.tag != "" && match(c) {
			out = append(out, c)
		}
		out = append(out, c.all(match)...)
	}
	return out
}

// first returns the first descendant that matches, or nil.
func (n *domNode) first(match func(*domNode) bool) *domNode {
	if all := n.all(match); len(all) > 0 {
		return all[0]
	}
	return nil
}

// inlineElements run into the text around them; any other element starts
// a new word.
var inlineElements = map[string]bool{"a": true, "abbr": true, "b": true, "code": true, "em": true,
	"i": true, "mark": true, "s": true, "small": true, "span": true, "strong": true, "sub": true,
	"sup": true, "time": true, "u": true}

// visibleText is the element's text as a person reads it: whitespace
// (no-break spaces too) collapsed, without script, style, template or
// hidden elements.
func (n *domNode) visibleText() string {
	var b strings.Builder
	var walk func(*domNode)
	walk = func(n *domNode) {
		if n.tag == "" {
			b.WriteString(n.text)
			return
		}
		if _, hidden := n.attrs["hidden"]; hidden || n.tag == "script" || n.tag == "style" || n.tag == "template" {
			return
		}
		if !inlineElements[n.tag] {
			b.WriteByte(' ')
			defer b.WriteByte(' ')
		}
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// Element matchers for all and first.
func byID(id string) func(*domNode) bool {
	return func(n *domNode) bool { return n.attrs["id"] == id }
}

func byClass(c string) func(*domNode) bool {
	return func(n *domNode) bool { return n.hasClass(c) }
}

func byTag(tag string) func(*domNode) bool {
	return func(n *domNode) bool { return n.tag == tag }
}

func byTagClass(tag, c string) func(*domNode) bool {
	return func(n *domNode) bool { return n.tag == tag && n.hasClass(c) }
}

// TestParseDOM covers what Chromium's serializer writes.
func TestParseDOM(t *testing.T) {
	t.Parallel()
	doc := parseDOM(`<!DOCTYPE html><html><head><meta charset="utf-8"><style>p>b{x:"</p>"}</style></head>` +
		`<body><!-- c --><p id="a" class="x  y" data-v="&quot;q&quot; &amp; r">Tom &amp; <b>Jerry</b>&nbsp;&lt;3<br>` +
		`<span hidden="">secret</span></p><div id="b"><svg><path d="M0"/></svg>two</div><script>if (a<b) {}</script></body></html>`)
	p := doc.first(byID("a"))
	if p == nil || p.tag != "p" || !p.hasClass("y") || p.attrs["data-v"] != `"q" & r` {
		t.Fatalf("p = %+v", p)
	}
	if got := p.visibleText(); got != "Tom & Jerry <3" { // a no-break space collapses too

		t.Errorf("visibleText %q", got)
	}
	if b := doc.first(byID("b")); b == nil || b.visibleText() != "two" || b.parent.tag != "body" {
		t.Errorf("div b = %+v", b)
	}
	if n := len(doc.all(byTag("script"))); n != 1 {
		t.Errorf("%d scripts", n)
	}
}
