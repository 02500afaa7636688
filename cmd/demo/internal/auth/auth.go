// Package auth verifies the demo server's signed tokens: HS256 JWTs
// (RFC 7519) whose "sub" claim is the client id and whose optional "pub"
// claim marks a publisher:
//
//	{"sub":"alice","exp":1764103600}            a client: may use client_id alice
//	{"sub":"loadgen","pub":true,"exp":...}      a publisher: may also publish into client:* and send join/leave
//
// "exp" is required; "nbf" and "iat" are checked when present, with
// Leeway for clock skew. A token travels as "Authorization: Bearer
// <token>", or, for an EventSource (which cannot set headers), as a
// "token" query parameter or cookie (see FromRequest).
package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/twinstream/twinstream/transports"
)

// MinSecretLen is the shortest secret accepted: RFC 7518 §3.2 requires an
// HS256 key of at least the hash's size, 256 bits.
const MinSecretLen = 32

// MaxTokenLen bounds the token parsed (longer ones are refused unread).
const MaxTokenLen = 4096

// Leeway is the clock skew allowed on exp, nbf and iat.
const Leeway = 30 * time.Second

// TokenParam is the query parameter and the cookie that carry a token for
// clients that cannot send an Authorization header.
const TokenParam = "token"

// Claims is a token's payload: the registered claims and "pub".
type Claims struct {
	jwt.RegisteredClaims
	// Pub marks a publisher token: it may publish into personal topics
	// (client:*) and publish presence kinds (join, leave) through the API.
	Pub bool `json:"pub,omitempty"`
}

// Identity is what a valid token says.
type Identity struct {
	ClientID  string // the "sub" claim, a valid client id
	Publisher bool   // the "pub" claim
}

// ErrInvalid wraps every reason a token is refused.
var ErrInvalid = errors.New("invalid token")

// Verifier checks tokens signed with one secret. Safe for concurrent use.
type Verifier struct {
	key    []byte
	parser *jwt.Parser
}

// NewVerifier returns a verifier for secret (at least MinSecretLen bytes).
func NewVerifier(secret []byte) (*Verifier, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("auth secret is %d bytes, want at least %d", len(secret), MinSecretLen)
	}
	return &Verifier{
		key: append([]byte(nil), secret...),
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(Leeway),
		),
	}, nil
}

// Verify checks token's signature and claims and returns its identity. Any
// failure is an error wrapping ErrInvalid.
func (v *Verifier) Verify(token string) (Identity, error) {
	if len(token) > MaxTokenLen {
		return Identity{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, MaxTokenLen)
	}
	var c Claims
	if _, err := v.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return v.key, nil }); err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if c.Subject == "" {
		return Identity{}, fmt.Errorf("%w: no sub claim", ErrInvalid)
	}
	if err := transports.ValidClientID(c.Subject); err != nil {
		return Identity{}, fmt.Errorf("%w: sub: %w", ErrInvalid, err)
	}
	return Identity{ClientID: c.Subject, Publisher: c.Pub}, nil
}

// Sign makes a token for id that expires after ttl (tests and tools; the
// demo only verifies).
func Sign(secret []byte, id Identity, ttl time.Duration) (string, error) {
	now := time.Now()
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   id.ClientID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Pub: id.Publisher,
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}

// FromRequest returns the token r carries, or "": the Authorization
// header's Bearer token first, then the "token" query parameter, then the
// "token" cookie.
func FromRequest(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
	}
	if t := r.URL.Query().Get(TokenParam); t != "" {
		return t
	}
	if c, err := r.Cookie(TokenParam); err == nil {
		return c.Value
	}
	return ""
}
