package bench

import (
	"compress/gzip"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
)

// gzipMiddleware is the kind of gzip middleware found in many stacks: it
// compresses every response for clients that accept gzip. With flush
// false it is the broken kind: its Flush flushes the connection but not
// the compressor, so an SSE stream's frames sit in compress/flate's
// buffer until it fills (tens of kilobytes: minutes of progress events).
// With flush true it is the fixed kind: Flush flushes the compressor
// first (a sync flush), so each flushed batch reaches the client.
func gzipMiddleware(next http.Handler, flush bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		zw := gzip.NewWriter(w)
		defer zw.Close()
		next.ServeHTTP(&gzipWriter{ResponseWriter: w, zw: zw, flush: flush}, r)
	})
}

type gzipWriter struct {
	http.ResponseWriter
	zw    *gzip.Writer
	flush bool
}

func (g *gzipWriter) WriteHeader(code int) {
	g.Header().Del("Content-Length")
	g.ResponseWriter.WriteHeader(code)
}

func (g *gzipWriter) Write(p []byte) (int, error) { return g.zw.Write(p) }

func (g *gzipWriter) Flush() {
	if g.flush {
		_ = g.zw.Flush()
	}
	if f, ok := g.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// gzipProxy serves, on a loopback port of its own, a reverse proxy to
// upstream behind gzipMiddleware: /broken/ without flushing the
// compressor, /fixed/ with. The proxy itself flushes every write (as
// httputil.ReverseProxy does for text/event-stream).
type gzipProxy struct {
	srv *http.Server
	ln  net.Listener
}

func startGzipProxy(upstream string) (*gzipProxy, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Header.Del("Accept-Encoding") // the middleware compresses, not the upstream
		},
		FlushInterval: -1,
	}
	mux := http.NewServeMux()
	mux.Handle("/broken/", http.StripPrefix("/broken", gzipMiddleware(rp, false)))
	mux.Handle("/fixed/", http.StripPrefix("/fixed", gzipMiddleware(rp, true)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &gzipProxy{srv: &http.Server{Handler: mux}, ln: ln}
	go func() { _ = g.srv.Serve(ln) }() // owner: g; ends in stop
	return g, nil
}

func (g *gzipProxy) url() string { return "http://" + g.ln.Addr().String() }

func (g *gzipProxy) stop() { _ = g.srv.Close() }
