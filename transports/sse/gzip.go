package sse

import (
	"compress/gzip"
	"net/http"
	"strings"
)

// gzipSink compresses a stream for a client that accepts gzip
// (Config.Gzip): one gzip stream per response, with its context kept
// from batch to batch, and a sync flush after every batch, so an event is
// never held back in the compressor (a gzip middleware that does not flush
// holds SSE frames until its buffer fills; see the hazards scenario of the
// load generator). The compressed bytes of a batch go to the inner sink in
// one send, so they leave as one write (one chunk when detached).
//
// The compressor costs memory per connection: compress/flate keeps its
// window and hash tables (about 800 KB at any level) for the stream's
// life, allocated at the stream's first batch.
type gzipSink struct {
	inner sink
	zw    *gzip.Writer
	out   []byte // the batch's compressed bytes, after headroom
}

// gzipLevel is the compression level: BestSpeed, as nginx's default
// gzip_comp_level 1, because a stream compresses small batches one at a
// time and the level barely changes their size.
const gzipLevel = gzip.BestSpeed

// Write collects what the compressor emits.
func (g *gzipSink) Write(p []byte) (int, error) {
	g.out = append(g.out, p...)
	return len(p), nil
}

func (g *gzipSink) send(b []byte) error {
	g.out = append(g.out[:0], make([]byte, headroom)...)
	if g.zw == nil {
		g.zw, _ = gzip.NewWriterLevel(g, gzipLevel) // a valid level: no error
	}
	if _, err := g.zw.Write(b[headroom:]); err != nil {
		return err
	}
	if err := g.zw.Flush(); err != nil {
		return err
	}
	err := g.inner.send(g.out)
	if cap(g.out) > maxPooledBuf {
		g.out = nil
	}
	return err
}

// end finishes the gzip stream (its last block and trailer), unless cut.
func (g *gzipSink) end(cut bool) {
	if !cut && g.zw != nil {
		g.out = append(g.out[:0], make([]byte, headroom)...)
		if g.zw.Close() == nil {
			_ = g.inner.send(g.out)
		}
	}
	g.zw, g.out = nil, nil
	g.inner.end(cut)
}

func (g *gzipSink) expire() { g.inner.expire() }

// gzipResponse reports whether a stream for r is gzipped (on, with
// Config.Gzip, and the request accepts gzip), and if so sets the response
// headers that say so.
func gzipResponse(on bool, w http.ResponseWriter, r *http.Request) bool {
	if !on || !acceptsGzip(r.Header.Values("Accept-Encoding")) {
		return false
	}
	h := w.Header()
	h.Set("Content-Encoding", "gzip")
	h.Add("Vary", "Accept-Encoding")
	return true
}

// acceptsGzip reports whether Accept-Encoding values accept gzip (a
// coding listed without q=0).
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := strings.ReplaceAll(params, " ", "")
			if q == "q=0" || strings.HasPrefix(q, "q=0.0") && strings.Trim(q[len("q=0."):], "0") == "" {
				continue
			}
			return true
		}
	}
	return false
}
