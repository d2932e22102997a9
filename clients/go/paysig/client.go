package paysig

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"

	paysigv1 "github.com/paysig/paysig/clients/go/paysig/v1"
)

// serviceConfig balances over every address a name resolves to (e.g. the
// pods behind a headless Service with a dns:/// target) and retries a call
// only when it never reached a server (UNAVAILABLE): signing is a pure
// function of the request, so a retry cannot sign twice with different
// results.
const serviceConfig = `{
  "loadBalancingConfig": [{"round_robin": {}}],
  "methodConfig": [{
    "name": [{"service": "paysig.v1.SignerService"}],
    "retryPolicy": {
      "maxAttempts": 4,
      "initialBackoff": "0.05s",
      "maxBackoff": "1s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }]
}`

// maxResponseBytes fits the answer to a full batch (1,000 orders, at most ~7 MiB).
const maxResponseBytes = 16 << 20

// keepaliveParams match the server's policy: it accepts pings every 10 s or
// more, with or without calls in flight.
var keepaliveParams = keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}

// Client calls a paysig server over a small pool of connections. It is safe
// for concurrent use.
type Client struct {
	conns   []*grpc.ClientConn
	stubs   []paysigv1.SignerServiceClient
	next    atomic.Uint64
	timeout time.Duration
}

// Dial creates a client for target (host:port or any gRPC target such as
// dns:///paysig.internal:50051). Connections are made lazily.
func Dial(target string, opts ...Option) (*Client, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if o.Connections < 1 {
		return nil, fmt.Errorf("paysig: Connections must be at least 1, got %d", o.Connections)
	}
	if o.Token != "" && o.TLS == nil && !o.AllowTokenWithoutTLS {
		return nil, errors.New("paysig: a token needs TLS (or WithInsecureToken for loopback tests)")
	}
	dial := []grpc.DialOption{
		grpc.WithDefaultServiceConfig(serviceConfig),
		grpc.WithKeepaliveParams(keepaliveParams),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxResponseBytes)),
	}
	if o.TLS != nil {
		dial = append(dial, grpc.WithTransportCredentials(credentials.NewTLS(o.TLS)))
	} else {
		dial = append(dial, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if o.Token != "" {
		dial = append(dial, grpc.WithPerRPCCredentials(bearer{token: o.Token, requireTLS: !o.AllowTokenWithoutTLS}))
	}
	dial = append(dial, o.DialOptions...)

	c := &Client{timeout: o.Timeout}
	for i := 0; i < o.Connections; i++ {
		conn, err := grpc.NewClient(target, dial...)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("paysig: dial %s: %w", target, err)
		}
		c.conns = append(c.conns, conn)
		c.stubs = append(c.stubs, paysigv1.NewSignerServiceClient(conn))
	}
	return c, nil
}

// Close closes every connection.
func (c *Client) Close() error {
	var errs []error
	for _, conn := range c.conns {
		errs = append(errs, conn.Close())
	}
	return errors.Join(errs...)
}

// Stub returns the generated client of one of the pool's connections, for
// calls the helpers do not cover. Errors it returns are plain gRPC errors.
func (c *Client) Stub() paysigv1.SignerServiceClient {
	return c.stubs[c.next.Add(1)%uint64(len(c.stubs))]
}

// RequestID is a call option that stores in *id the server's id of the call
// (the x-request-id its audit line and logs carry), on success and failure
// alike; it is left empty when the call never reached a paysig server.
//
//	var id string
//	signed, err := client.SignOrder(ctx, req, paysig.RequestID(&id))
func RequestID(id *string) grpc.CallOption { return requestIDOption{id: id} }

type requestIDOption struct {
	grpc.EmptyCallOption
	id *string
}

func call[Req, Resp any](ctx context.Context, c *Client, req Req,
	method func(paysigv1.SignerServiceClient, context.Context, Req, ...grpc.CallOption) (Resp, error),
	opts ...grpc.CallOption) (Resp, error) {
	if _, ok := ctx.Deadline(); !ok && c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var trailer metadata.MD
	resp, err := method(c.Stub(), ctx, req, append(opts[:len(opts):len(opts)], grpc.Trailer(&trailer))...)
	for _, opt := range opts {
		if o, ok := opt.(requestIDOption); ok {
			*o.id = requestID(trailer)
		}
	}
	return resp, wrapError(err, trailer)
}

// SignOrder returns the signData, paySig and signature of a client payment
// call. opts are gRPC call options, such as RequestID. Errors are *Error.
func (c *Client) SignOrder(ctx context.Context, req *paysigv1.SignOrderRequest, opts ...grpc.CallOption) (*paysigv1.SignOrderResponse, error) {
	return call(ctx, c, req, paysigv1.SignerServiceClient.SignOrder, opts...)
}

// SignApiCall returns pay_sig, signature and the query-string part of a
// server API call. Errors are *Error.
func (c *Client) SignApiCall(ctx context.Context, req *paysigv1.SignApiCallRequest, opts ...grpc.CallOption) (*paysigv1.SignApiCallResponse, error) {
	return call(ctx, c, req, paysigv1.SignerServiceClient.SignApiCall, opts...)
}

// VerifySignature checks a signature; a mismatch is a response with Valid
// false, not an error. Errors are *Error.
func (c *Client) VerifySignature(ctx context.Context, req *paysigv1.VerifySignatureRequest, opts ...grpc.CallOption) (*paysigv1.VerifySignatureResponse, error) {
	return call(ctx, c, req, paysigv1.SignerServiceClient.VerifySignature, opts...)
}

// BatchSignOrders signs up to 1,000 orders; results[i] answers reqs[i] and
// holds either a response or an item error. Errors are *Error and concern the
// batch as a whole.
func (c *Client) BatchSignOrders(ctx context.Context, reqs []*paysigv1.SignOrderRequest, opts ...grpc.CallOption) ([]*paysigv1.SignOrderResult, error) {
	resp, err := call(ctx, c, &paysigv1.BatchSignOrdersRequest{Requests: reqs}, paysigv1.SignerServiceClient.BatchSignOrders, opts...)
	return resp.GetResults(), err
}

// BatchSignApiCalls signs up to 1,000 server API calls, like BatchSignOrders.
func (c *Client) BatchSignApiCalls(ctx context.Context, reqs []*paysigv1.SignApiCallRequest, opts ...grpc.CallOption) ([]*paysigv1.SignApiCallResult, error) {
	resp, err := call(ctx, c, &paysigv1.BatchSignApiCallsRequest{Requests: reqs}, paysigv1.SignerServiceClient.BatchSignApiCalls, opts...)
	return resp.GetResults(), err
}

// VerifyNotification verifies a push that WeChat sent to the game's push
// URL; a forged push is a response with Result REJECTED, not an error.
// NotificationHandler wraps it in an http.Handler. Errors are *Error.
func (c *Client) VerifyNotification(ctx context.Context, req *paysigv1.VerifyNotificationRequest, opts ...grpc.CallOption) (*paysigv1.VerifyNotificationResponse, error) {
	return call(ctx, c, req, paysigv1.SignerServiceClient.VerifyNotification, opts...)
}

// DiagnoseSignature explains why WeChat rejected a signature: which known
// mistake (key, env, key version, method, separator, serialisation, case)
// reproduces it, and which signData rules the payload breaks. It is its own
// RPC in the caller's grants. Errors are *Error.
func (c *Client) DiagnoseSignature(ctx context.Context, req *paysigv1.DiagnoseSignatureRequest, opts ...grpc.CallOption) (*paysigv1.DiagnoseSignatureResponse, error) {
	return call(ctx, c, req, paysigv1.SignerServiceClient.DiagnoseSignature, opts...)
}

type bearer struct {
	token      string
	requireTLS bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b bearer) RequireTransportSecurity() bool { return b.requireTLS }
