package status

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"slices"
	"sync"
)

const (
	// minGzipBytes is the size below which a body is served as is: gzip's
	// header and trailer would eat most of the saving.
	minGzipBytes = 1024
	// maxEagerBytes is the size above which a body is hashed and compressed
	// only when first served, and compressed at BestSpeed.
	maxEagerBytes = 1 << 20
	// writeBufferBytes is the size of the writes a body of parts is
	// gathered into.
	writeBufferBytes = 64 << 10
)

// body is one endpoint's encoded response. An eager body has its ETag and
// gzip variant from the start. A lazy one (the checks list, which changes
// on every rebuild and reaches 116 MB at 50,000 checks, BenchmarkCheckPage50k;
// a client of a large estate asks for pages, checkpage.go) gets each on
// first use, once: a snapshot that nobody asks for costs neither. A body
// that did not change is shared by consecutive snapshots.
type body struct {
	// The body is data, or, for a body made of pieces, its parts in order:
	// the checks list is one part per check, shared by every snapshot in
	// which the check did not change, so a rebuild copies none of them.
	data        []byte
	parts       [][]byte
	size        int
	contentType string

	lazy     *encoder // nil for an eager body
	tagOnce  sync.Once
	etag     string
	gzETag   string // "" when there is no gzip variant
	gzOnce   sync.Once
	gz       []byte // nil when there is none, or while a lazy one is not made
	joinOnce sync.Once
	joined   []byte // parts as one slice, made for bytes
}

// bytes returns the whole body. A body of parts is joined on first use,
// once: serving it does not need that.
func (b *body) bytes() []byte {
	if b.parts == nil {
		return b.data
	}
	b.joinOnce.Do(func() { b.joined = slices.Concat(b.parts...) })
	return b.joined
}

// pieces returns the body as parts.
func (b *body) pieces() [][]byte {
	if b.parts == nil {
		return [][]byte{b.data}
	}
	return b.parts
}

// write writes the body to w, gathering a body of parts into large writes.
func (b *body) write(w io.Writer) error {
	if b.parts == nil {
		_, err := w.Write(b.data)
		return err
	}
	bw := b.lazy.writers.Get().(*bufio.Writer)
	defer b.lazy.writers.Put(bw)
	bw.Reset(w)
	defer bw.Reset(nil)
	for _, p := range b.parts {
		if _, err := bw.Write(p); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// tags returns the ETags of the body and of its gzip variant ("" if none).
func (b *body) tags() (etag, gzETag string) {
	if b.lazy != nil {
		b.tagOnce.Do(b.hash)
	}
	return b.etag, b.gzETag
}

func (b *body) hash() {
	h := sha256.New()
	for _, p := range b.pieces() {
		_, _ = h.Write(p) // a hash never fails
	}
	tag := hex.EncodeToString(h.Sum(nil)[:16])
	b.etag = `"` + tag + `"`
	if b.size >= minGzipBytes {
		b.gzETag = `"` + tag + `-gz"`
	}
}

// gzipped returns the gzip variant; nil means serve the body as is.
func (b *body) gzipped() []byte {
	if b.lazy != nil {
		b.gzOnce.Do(func() {
			if b.size < minGzipBytes {
				return
			}
			level := gzip.DefaultCompression
			if b.size > maxEagerBytes {
				level = gzip.BestSpeed
			}
			if gz := b.lazy.gzip(level, b.pieces()...); len(gz) < b.size {
				b.gz = gz
			}
		})
	}
	return b.gz
}

// encoder makes bodies. One is shared by every snapshot of a Refresher and
// by the requests they serve, so that gzip writers (about 1 MB of state
// each) are reused rather than allocated per body.
type encoder struct {
	gzDefault sync.Pool // *gzip.Writer at DefaultCompression
	gzFast    sync.Pool // *gzip.Writer at BestSpeed
	writers   sync.Pool // *bufio.Writer gathering a body's parts
}

func newEncoder() *encoder {
	e := &encoder{}
	e.writers.New = func() any { return bufio.NewWriterSize(nil, writeBufferBytes) }
	e.gzDefault.New = func() any { return gzip.NewWriter(nil) }
	e.gzFast.New = func() any {
		zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level: no error
		return zw
	}
	return e
}

// newBody wraps data. A body of minGzipBytes or more gets a gzip variant.
// Hashing and compressing are done now, unless lazy is set or data is
// larger than maxEagerBytes.
func (e *encoder) newBody(data []byte, contentType string, lazy bool) *body {
	b := &body{data: data, size: len(data), contentType: contentType}
	if lazy || len(data) > maxEagerBytes {
		b.lazy = e
		return b
	}
	b.hash()
	if b.gzETag != "" {
		if gz := e.gzip(gzip.DefaultCompression, data); len(gz) < len(data) {
			b.gz = gz
		} else {
			b.gzETag = ""
		}
	}
	return b
}

// newPartsBody makes a lazy body of parts; they must not change.
func (e *encoder) newPartsBody(parts [][]byte, contentType string) *body {
	b := &body{parts: parts, contentType: contentType, lazy: e}
	for _, p := range parts {
		b.size += len(p)
	}
	return b
}

// reuse returns prev if it holds exactly data, else a new body. Comparing
// is far cheaper than hashing and compressing again.
func (e *encoder) reuse(prev *body, data []byte, contentType string, lazy bool) *body {
	if prev != nil && prev.parts == nil && prev.contentType == contentType && bytes.Equal(prev.data, data) {
		return prev
	}
	return e.newBody(data, contentType, lazy)
}

// gzip compresses the concatenation of parts at level (DefaultCompression
// or BestSpeed) with a pooled writer. Writing to a bytes.Buffer cannot fail.
func (e *encoder) gzip(level int, parts ...[]byte) []byte {
	pool := &e.gzDefault
	if level == gzip.BestSpeed {
		pool = &e.gzFast
	}
	zw := pool.Get().(*gzip.Writer)
	defer pool.Put(zw)
	size := 0
	for _, p := range parts {
		size += len(p)
	}
	var buf bytes.Buffer
	buf.Grow(size/8 + 64)
	zw.Reset(&buf)
	for _, p := range parts {
		_, _ = zw.Write(p)
	}
	_ = zw.Close()
	return buf.Bytes()
}
