package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// problem is one configuration error at a key path ("checks[2].timeout"), or
// at an input that has no key path yet ("env TOCSIN_SERVR__LISTEN").
type problem struct {
	path string
	msg  string
	err  error // underlying cause for errors.Is and errors.As; may be nil
}

func (p *problem) Error() string {
	if p.path == "" {
		return p.msg
	}
	return p.path + ": " + p.msg
}

func (p *problem) Unwrap() error { return p.err }

// problems collects every problem found, in the order found.
type problems []*problem

func (ps *problems) add(path, msg string) {
	*ps = append(*ps, &problem{path: path, msg: msg})
}

func (ps *problems) addf(path, format string, args ...any) {
	ps.add(path, fmt.Sprintf(format, args...))
}

// wrap records err at path; prefix, if not empty, goes before its message.
func (ps *problems) wrap(path, prefix string, err error) {
	msg := err.Error()
	if prefix != "" {
		msg = prefix + ": " + msg
	}
	*ps = append(*ps, &problem{path: path, msg: msg, err: err})
}

// without returns the problems of ps that are neither at nor under the key
// path of one of read. Values that could not be read (unknown keys, wrong
// types, unset variables) are left out of the config; what Validate says
// about the gap they leave ("required", "must be positive") would only
// repeat the problem already reported at that key.
func (ps problems) without(read problems) problems {
	return slices.DeleteFunc(slices.Clone(ps), func(p *problem) bool {
		return slices.ContainsFunc(read, func(r *problem) bool { return under(p.path, r.path) })
	})
}

// under reports whether key path is prefix or below it: "checks[0]" holds
// "checks[0].http.url" and "checks[0]", not "checks[01]".
func under(path, prefix string) bool {
	rest, ok := strings.CutPrefix(path, prefix)
	return ok && (rest == "" || rest[0] == '.' || rest[0] == '[')
}

// join returns all problems as one error (nil if none), one per line in
// config order, with every known secret value scrubbed from the messages.
func (ps problems) join(secrets []string) error {
	if len(ps) == 0 {
		return nil
	}
	ps = slices.Clone(ps)
	order := make(map[*problem][]int, len(ps))
	for _, p := range ps {
		order[p] = pathOrder(p.path)
	}
	slices.SortStableFunc(ps, func(a, b *problem) int {
		return slices.Compare(order[a], order[b])
	})
	errs := make([]error, len(ps))
	for i, p := range ps {
		p.path = scrub(p.path, secrets)
		p.msg = scrub(p.msg, secrets)
		errs[i] = p
	}
	return errors.Join(errs...)
}

// scrub replaces every secret value in s with a placeholder. secrets is
// sorted longest first, so a secret that contains another goes first.
func scrub(s string, secrets []string) string {
	for _, v := range secrets {
		if v != "" && strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, redacted)
		}
	}
	return s
}

// pathOrder returns the position of a key path in Config: the index of each
// struct field and list element along it. Keys of maps count as 0, unknown
// keys (and paths like "env NAME") come after every known field.
func pathOrder(path string) []int {
	var out []int
	t := reflect.TypeFor[Config]()
	for path != "" {
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if path[0] == '[' {
			end := max(strings.IndexByte(path, ']'), 1)
			n, _ := strconv.Atoi(path[1:end])
			out = append(out, n)
			path = path[min(end+1, len(path)):]
			if t != nil && t.Kind() == reflect.Slice {
				t = t.Elem()
			}
			continue
		}
		path = strings.TrimPrefix(path, ".")
		end := strings.IndexAny(path, ".[")
		if end < 0 {
			end = len(path)
		}
		key := path[:end]
		path = path[end:]
		f, ok := field{}, false
		if t != nil && t.Kind() == reflect.Struct {
			f, ok = fieldsByKey(t)[key]
		}
		switch {
		case ok:
			out = append(out, f.index)
			t = f.typ
		case t != nil && t.Kind() == reflect.Map:
			out = append(out, 0)
			t = t.Elem()
		default:
			out = append(out, math.MaxInt)
			t = nil
		}
	}
	return out
}
