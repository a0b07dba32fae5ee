package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// decode turns the walked raw map into a Config. The walker (schema.go)
// has checked every key and value against the same koanf tags and left
// each scalar as one Go type per field kind (time.Duration, an RFC 3339
// string for time.Time, string, bool, float64, int64), so decoding is an
// assignment through the walker's own field table. mapstructure, which
// did this before, spent 1.2 of a 50,000-check load's 2.1 s parsing the
// same struct tags again for every check (BenchmarkLoad50k); it stays the
// oracle this decoder is tested against (assign_test.go). A value of a
// shape the walker would not have left is an error naming its key path:
// a backstop, never expected.
func (w walker) decode(raw map[string]any) (*Config, error) {
	var cfg Config
	if err := w.assign(reflect.ValueOf(&cfg).Elem(), raw); err != nil {
		return nil, fmt.Errorf("config: decode: %w", err)
	}
	return &cfg, nil
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
)

// assign sets rv, a settable zero value, from the walked value v. A nil v
// (a list item the walker rejected) leaves the zero value.
func (w walker) assign(rv reflect.Value, v any) error {
	if v == nil {
		return nil
	}
	t := rv.Type()
	switch t {
	case durationType:
		d, ok := v.(time.Duration)
		if !ok {
			return mismatch(t, v)
		}
		rv.SetInt(int64(d))
		return nil
	case timeType:
		s, ok := v.(string)
		if !ok {
			return mismatch(t, v)
		}
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return err
		}
		rv.Set(reflect.ValueOf(tm))
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		return set(rv, v, rv.SetString)
	case reflect.Bool:
		return set(rv, v, rv.SetBool)
	case reflect.Float64:
		return set(rv, v, rv.SetFloat)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(int64)
		if !ok || rv.OverflowInt(n) {
			return mismatch(t, v)
		}
		rv.SetInt(n)
		return nil
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		if err := w.assign(p.Elem(), v); err != nil {
			return err
		}
		rv.Set(p)
		return nil
	case reflect.Struct:
		return w.assignStruct(rv, v)
	case reflect.Slice:
		return w.assignSlice(rv, v)
	case reflect.Map:
		return w.assignMap(rv, v)
	}
	return mismatch(t, v)
}

func (w walker) assignStruct(rv reflect.Value, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return mismatch(rv.Type(), v)
	}
	fields := w.fieldsOf(rv.Type())
	for k, e := range m {
		f, ok := fields[k]
		if !ok {
			return &decodeError{path: k, err: errors.New("unknown key")}
		}
		if err := w.assign(rv.Field(f.index), e); err != nil {
			return within(k, err)
		}
	}
	return nil
}

func (w walker) assignSlice(rv reflect.Value, v any) error {
	items, ok := v.([]any)
	if !ok {
		return mismatch(rv.Type(), v)
	}
	s := reflect.MakeSlice(rv.Type(), len(items), len(items))
	for i, item := range items {
		if err := w.assign(s.Index(i), item); err != nil {
			return within(fmt.Sprintf("[%d]", i), err)
		}
	}
	rv.Set(s)
	return nil
}

func (w walker) assignMap(rv reflect.Value, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return mismatch(rv.Type(), v)
	}
	t := rv.Type()
	out := reflect.MakeMapWithSize(t, len(m))
	for k, e := range m {
		ev := reflect.New(t.Elem()).Elem()
		if err := w.assign(ev, e); err != nil {
			return within(k, err)
		}
		out.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), ev)
	}
	rv.Set(out)
	return nil
}

// set assigns v to rv through setter if v is of the setter's type.
func set[T any](rv reflect.Value, v any, setter func(T)) error {
	x, ok := v.(T)
	if !ok {
		return mismatch(rv.Type(), v)
	}
	setter(x)
	return nil
}

func mismatch(t reflect.Type, v any) error {
	return fmt.Errorf("cannot decode %T as %s", v, t)
}

// decodeError is an error at a key path: "checks[3].timeout: ...".
type decodeError struct {
	path string
	err  error
}

func (e *decodeError) Error() string { return e.path + ": " + e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

// within puts key, a field name or "[i]", in front of err's key path.
func within(key string, err error) error {
	de, ok := errors.AsType[*decodeError](err)
	if !ok {
		return &decodeError{path: key, err: err}
	}
	if strings.HasPrefix(de.path, "[") {
		de.path = key + de.path
	} else {
		de.path = key + "." + de.path
	}
	return de
}
