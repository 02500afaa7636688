package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"time"
)

// tlsEnabled reports whether the server serves HTTPS.
func (c Config) tlsEnabled() bool { return c.TLSCert != "" || c.TLSSelfSigned }

// tlsConfig is the server's TLS configuration: the given certificate and
// key, or a throwaway self-signed certificate for host. HTTP/2 is offered
// by ALPN ("h2", then "http/1.1"); a WebSocket upgrade arrives on an
// HTTP/1.1 connection, as every browser opens one for it (RFC 8441, the
// WebSocket over HTTP/2, is not used).
func (c Config) tlsConfig(host string) (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	if c.TLSSelfSigned {
		cert, err = SelfSignedCert(host, 24*time.Hour)
	} else {
		cert, err = tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	}
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// SelfSignedCert makes a throwaway certificate (ECDSA P-256) for
// localhost, 127.0.0.1, ::1 and host (a name or an IP; "" adds nothing),
// valid from a minute ago for validity. Nothing trusts it: a client must
// skip verification (curl -k, Chromium --ignore-certificate-errors).
func SelfSignedCert(host string, validity time.Duration) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"twinstream demo (self-signed)"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	} else if host != "" && host != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// validateTLS reports a bad combination of the TLS flags.
func (c Config) validateTLS(bad func(flag, format string, a ...any)) {
	switch {
	case c.TLSSelfSigned && (c.TLSCert != "" || c.TLSKey != ""):
		bad("tls-self-signed", "cannot be combined with --tls-cert/--tls-key")
	case (c.TLSCert == "") != (c.TLSKey == ""):
		bad("tls-cert", "--tls-cert and --tls-key go together")
	}
}
