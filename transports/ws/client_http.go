package ws

import (
	"net"
	"net/http"
	"time"
)

// LocalAddrHTTPClient returns an HTTP client whose connections leave from
// the local address ip (any port), for ClientConfig.HTTPClient: a load
// generator spreads its clients over 127.0.0.1, 127.0.0.2, ... so that one
// process can hold more connections than one source address has ports.
// Share one returned client between all the clients of an address; it is
// safe for concurrent use.
func LocalAddrHTTPClient(ip net.IP) *http.Client {
	d := &net.Dialer{
		LocalAddr: &net.TCPAddr{IP: ip},
		Timeout:   30 * time.Second,
		KeepAlive: 30 * time.Second,
	}
	return &http.Client{Transport: &http.Transport{
		DialContext:         d.DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     90 * time.Second,
	}}
}
