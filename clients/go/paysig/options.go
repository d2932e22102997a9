package paysig

import (
	"crypto/tls"
	"time"

	"google.golang.org/grpc"
)

// Options configures a Client. Start from the defaults (Dial applies them)
// and change them with Option functions.
type Options struct {
	// Connections is how many HTTP/2 connections the client opens to the
	// target; calls are spread over them in turn. A paysig server runs one
	// process per core behind one port and Linux spreads connections, not
	// calls, over those processes: one connection would use one core.
	// Default 4.
	Connections int
	// Timeout is the deadline of a call whose context has none. Default 2s.
	Timeout time.Duration
	// TLS enables TLS with this configuration; nil means plaintext.
	TLS *tls.Config
	// Token is sent as "authorization: Bearer <token>" on every call.
	Token string
	// AllowTokenWithoutTLS lets Token travel over plaintext. Only for
	// loopback connections and tests.
	AllowTokenWithoutTLS bool
	// DialOptions are added after the client's own dial options.
	DialOptions []grpc.DialOption
}

// Option changes Options.
type Option func(*Options)

func defaultOptions() Options {
	return Options{Connections: 4, Timeout: 2 * time.Second}
}

// WithConnections sets Options.Connections.
func WithConnections(n int) Option { return func(o *Options) { o.Connections = n } }

// WithTimeout sets Options.Timeout.
func WithTimeout(d time.Duration) Option { return func(o *Options) { o.Timeout = d } }

// WithTLS sets Options.TLS.
func WithTLS(config *tls.Config) Option { return func(o *Options) { o.TLS = config } }

// WithToken sets Options.Token.
func WithToken(token string) Option { return func(o *Options) { o.Token = token } }

// WithInsecureToken sets Options.Token and Options.AllowTokenWithoutTLS.
func WithInsecureToken(token string) Option {
	return func(o *Options) { o.Token, o.AllowTokenWithoutTLS = token, true }
}

// WithDialOptions adds to Options.DialOptions.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *Options) { o.DialOptions = append(o.DialOptions, opts...) }
}
