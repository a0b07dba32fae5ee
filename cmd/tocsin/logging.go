package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/tocsin/tocsin/config"
)

// scrubber replaces every known secret value with a placeholder. It is
// swapped on reload, so log lines written after a reload use the new secrets.
type scrubber struct {
	r atomic.Pointer[strings.Replacer]
}

func (s *scrubber) set(secrets []string) {
	pairs := make([]string, 0, 2*len(secrets))
	for _, v := range secrets {
		pairs = append(pairs, v, "<redacted>")
	}
	s.r.Store(strings.NewReplacer(pairs...))
}

func (s *scrubber) scrub(v string) string {
	if r := s.r.Load(); r != nil {
		return r.Replace(v)
	}
	return v
}

// newLogger builds the process logger: JSON (default) or text to w, and every
// message and string or error attribute scrubbed of secrets — the last line
// of defence should a secret reach an error message.
func newLogger(w io.Writer, lc config.Log, sc *scrubber) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(lc.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		switch a.Value.Kind() {
		case slog.KindString:
			a.Value = slog.StringValue(sc.scrub(a.Value.String()))
		case slog.KindAny:
			switch v := a.Value.Any().(type) {
			case error:
				a.Value = slog.StringValue(sc.scrub(v.Error()))
			case fmt.Stringer:
				a.Value = slog.StringValue(sc.scrub(v.String()))
			}
		}
		return a
	}}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if lc.Format == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(h)
}
