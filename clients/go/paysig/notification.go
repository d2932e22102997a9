package paysig

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"google.golang.org/grpc/codes"

	paysigv1 "github.com/paysig/paysig/clients/go/paysig/v1"
)

// MaxNotificationBody is the largest push body NotificationHandler forwards
// (paysig rejects bigger ones as BODY_TOO_LARGE); a bigger one is answered
// 413 without a call.
const MaxNotificationBody = 64 << 10

// NotificationBudget is how long WeChat waits for the answer to a push; it
// bounds the VerifyNotification call and the delivery together.
const NotificationBudget = 3 * time.Second

// NotificationVerifyTimeout is the part of NotificationBudget given to the
// VerifyNotification call; the delivery has the rest.
const NotificationVerifyTimeout = 1500 * time.Millisecond

// DeliverFunc delivers an authentic notification (goods, coins, a refund,
// ...; see n.Kind). WeChat repeats a push until it gets the ack, so deliver
// once per n.OutTradeNo and return nil for every repeat. A nil error answers
// WeChat's ack; an error answers the nack, and WeChat retries later. ctx
// ends with the push's budget.
type DeliverFunc func(ctx context.Context, n *paysigv1.Notification) error

// NotificationOption configures NotificationHandler.
type NotificationOption func(*notificationHandler)

// OnNotificationError sets a function called with every failed
// VerifyNotification call (an *Error, with its RequestID) and every error
// a delivery returned, e.g. to log them. It must not write to the response.
func OnNotificationError(f func(r *http.Request, err error)) NotificationOption {
	return func(h *notificationHandler) { h.onError = f }
}

// NotificationHandler returns the http.Handler of appID's push URL (appID as
// named in the server's config, with an [apps.push] table). For every
// request it forwards the method, raw query and body (at most
// MaxNotificationBody) to VerifyNotification within NotificationVerifyTimeout
// and answers WeChat within NotificationBudget:
//
//   - the URL verification handshake (GET): the echostr;
//   - a rejected (forged, tampered, malformed) push: paysig's nack (4xx),
//     without calling deliver;
//   - an authentic test push (IsMock): the ack, without calling deliver;
//   - an authentic push: deliver(ctx, notification), then the ack when it
//     returns nil, else the nack (WeChat retries);
//   - a failed call: 400 for a malformed request (INVALID_ARGUMENT), 503
//     otherwise (WeChat retries).
//
// Methods other than GET and POST get 405.
func NotificationHandler(client *Client, appID string, deliver DeliverFunc, opts ...NotificationOption) http.Handler {
	h := &notificationHandler{client: client, appID: appID, deliver: deliver}
	for _, opt := range opts {
		opt(h)
	}
	return h
}

type notificationHandler struct {
	client  *Client
	appID   string
	deliver DeliverFunc
	onError func(*http.Request, error)
}

func (h *notificationHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), NotificationBudget)
	defer cancel()
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxNotificationBody+1))
	if err != nil {
		http.Error(w, "cannot read the request body", http.StatusBadRequest)
		return
	}
	if len(body) > MaxNotificationBody {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	verifyCtx, cancelVerify := context.WithTimeout(ctx, NotificationVerifyTimeout)
	resp, err := h.client.VerifyNotification(verifyCtx, &paysigv1.VerifyNotificationRequest{
		AppId: h.appID, HttpMethod: r.Method, Query: r.URL.RawQuery, Body: body})
	cancelVerify()
	if err != nil {
		h.report(r, err)
		if perr, ok := AsError(err); ok && perr.Code == codes.InvalidArgument {
			http.Error(w, "bad push request", http.StatusBadRequest)
		} else {
			http.Error(w, "push not verified, retry later", http.StatusServiceUnavailable)
		}
		return
	}
	switch resp.GetResult() {
	case paysigv1.NotificationResult_NOTIFICATION_RESULT_URL_VERIFICATION:
		writeReply(w, resp.GetAck())
	case paysigv1.NotificationResult_NOTIFICATION_RESULT_REJECTED:
		writeReply(w, resp.GetNack())
	case paysigv1.NotificationResult_NOTIFICATION_RESULT_ACCEPTED:
		n := resp.GetNotification()
		if n.GetIsMock() {
			writeReply(w, resp.GetAck())
			return
		}
		if err := h.deliver(ctx, n); err != nil {
			h.report(r, err)
			writeReply(w, resp.GetNack())
			return
		}
		writeReply(w, resp.GetAck())
	default:
		h.report(r, errors.New("paysig: VerifyNotification returned no result"))
		http.Error(w, "push not verified, retry later", http.StatusServiceUnavailable)
	}
}

func (h *notificationHandler) report(r *http.Request, err error) {
	if h.onError != nil {
		h.onError(r, err)
	}
}

// writeReply writes one of paysig's HttpReply answers unchanged.
func writeReply(w http.ResponseWriter, reply *paysigv1.HttpReply) {
	status := int(reply.GetStatus())
	if reply == nil || status < 100 || status > 599 {
		http.Error(w, "push not verified, retry later", http.StatusServiceUnavailable)
		return
	}
	if ct := reply.GetContentType(); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(status)
	_, _ = w.Write(reply.GetBody())
}
