package auth_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/twinstream/twinstream/cmd/demo/internal/auth"
	"github.com/twinstream/twinstream/transports"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// rawToken signs any header and payload JSON with HMAC-SHA256, as a
// foreign tool (or an attacker with the secret's shape wrong) would.
func rawToken(key []byte, header, payload string) string {
	enc := base64.RawURLEncoding
	s := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return s + "." + enc.EncodeToString(m.Sum(nil))
}

const hs256 = `{"alg":"HS256","typ":"JWT"}`

func TestVerify(t *testing.T) {
	v, err := auth.NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Unix()
	past := time.Now().Add(-time.Hour).Unix()
	good, _ := auth.Sign(secret, auth.Identity{ClientID: "alice"}, time.Hour)
	pub, _ := auth.Sign(secret, auth.Identity{ClientID: "loadgen", Publisher: true}, time.Hour)
	tests := []struct {
		name  string
		token string
		want  auth.Identity
		ok    bool
	}{
		{"signed by Sign", good, auth.Identity{ClientID: "alice"}, true},
		{"publisher", pub, auth.Identity{ClientID: "loadgen", Publisher: true}, true},
		{"foreign tool", rawToken(secret, hs256, `{"sub":"bob","exp":`+itoa(exp)+`}`), auth.Identity{ClientID: "bob"}, true},
		{"wrong secret", rawToken([]byte("another secret, 32 bytes long...."), hs256, `{"sub":"bob","exp":`+itoa(exp)+`}`), auth.Identity{}, false},
		{"expired", rawToken(secret, hs256, `{"sub":"bob","exp":`+itoa(past)+`}`), auth.Identity{}, false},
		{"no exp", rawToken(secret, hs256, `{"sub":"bob"}`), auth.Identity{}, false},
		{"no sub", rawToken(secret, hs256, `{"exp":`+itoa(exp)+`}`), auth.Identity{}, false},
		{"bad sub", rawToken(secret, hs256, `{"sub":"bob smith","exp":`+itoa(exp)+`}`), auth.Identity{}, false},
		{"pub not a bool", rawToken(secret, hs256, `{"sub":"bob","pub":"yes","exp":`+itoa(exp)+`}`), auth.Identity{}, false},
		{"alg none", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"bob","exp":`+itoa(exp)+`}`)) + ".", auth.Identity{}, false},
		{"alg HS512", rawToken(secret, `{"alg":"HS512","typ":"JWT"}`, `{"sub":"bob","exp":`+itoa(exp)+`}`), auth.Identity{}, false},
		{"garbage", "not.a.token", auth.Identity{}, false},
		{"empty", "", auth.Identity{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(tt.token)
			if tt.ok != (err == nil) || got != tt.want {
				t.Fatalf("Verify = %+v, %v; want %+v, ok %v", got, err, tt.want, tt.ok)
			}
			if err != nil && !errors.Is(err, auth.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
	if _, err := auth.NewVerifier([]byte("short")); err == nil {
		t.Fatal("a 5-byte secret was accepted")
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestFromRequest(t *testing.T) {
	tests := []struct {
		name   string
		target string
		header map[string]string
		want   string
	}{
		{"header", "/sse?token=q", map[string]string{"Authorization": "Bearer h", "Cookie": "token=c"}, "h"},
		{"query", "/sse?token=q", map[string]string{"Cookie": "token=c"}, "q"},
		{"cookie", "/sse", map[string]string{"Cookie": "token=c"}, "c"},
		{"basic auth is not a token", "/sse", map[string]string{"Authorization": "Basic eDp5"}, ""},
		{"none", "/sse", nil, ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, tt.target, nil)
		for k, v := range tt.header {
			r.Header.Set(k, v)
		}
		if got := auth.FromRequest(r); got != tt.want {
			t.Errorf("%s: FromRequest = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// FuzzVerify: no input panics the verifier, and whatever it accepts names a
// valid client id.
func FuzzVerify(f *testing.F) {
	good, _ := auth.Sign(secret, auth.Identity{ClientID: "alice", Publisher: true}, time.Hour)
	for _, s := range []string{good, "", "a.b.c", "..", good[:len(good)-2], good + "x"} {
		f.Add(s)
	}
	v, _ := auth.NewVerifier(secret)
	f.Fuzz(func(t *testing.T, token string) {
		id, err := v.Verify(token)
		if err == nil && transports.ValidClientID(id.ClientID) != nil {
			t.Fatalf("accepted %q with client id %q", token, id.ClientID)
		}
	})
}

// FuzzClaims signs any payload correctly, so the fuzzer reaches the claims
// parsing behind the signature check: an accepted payload has a valid sub,
// an exp in the future, a boolean pub, and the identity is exactly those
// claims.
func FuzzClaims(f *testing.F) {
	exp := itoa(time.Now().Add(24 * time.Hour).Unix())
	for _, s := range []string{
		`{"sub":"alice","exp":` + exp + `}`,
		`{"sub":"alice","pub":true,"exp":` + exp + `}`,
		`{"sub":"alice","pub":1,"exp":` + exp + `}`,
		`{"sub":"alice","exp":"` + exp + `"}`,
		`{"sub":"alice","exp":1e300}`,
		`{"sub":"alice","exp":` + exp + `,"nbf":1e18}`,
		`{"sub":"","exp":` + exp + `}`,
		`{"sub":["a"],"exp":` + exp + `}`,
		`{"sub":"alice","sub":"bob","exp":` + exp + `}`,
		`[]`, `null`, `{`,
	} {
		f.Add(s)
	}
	v, _ := auth.NewVerifier(secret)
	f.Fuzz(func(t *testing.T, payload string) {
		id, err := v.Verify(rawToken(secret, hs256, payload))
		if err != nil {
			return
		}
		var c struct {
			Sub string      `json:"sub"`
			Pub bool        `json:"pub"`
			Exp json.Number `json:"exp"` // jwt's NumericDate also reads "123", as json.Number does
		}
		if err := json.Unmarshal([]byte(payload), &c); err != nil {
			t.Fatalf("accepted %q, which encoding/json cannot read as claims: %v", payload, err)
		}
		if id.ClientID != c.Sub || id.Publisher != c.Pub {
			t.Fatalf("payload %q gave %+v", payload, id)
		}
		if transports.ValidClientID(id.ClientID) != nil {
			t.Fatalf("payload %q: client id %q accepted", payload, id.ClientID)
		}
		exp, _ := c.Exp.Float64()
		if time.Unix(int64(exp), 0).Before(time.Now().Add(-auth.Leeway - time.Second)) {
			t.Fatalf("payload %q: expired token accepted", payload)
		}
	})
}
