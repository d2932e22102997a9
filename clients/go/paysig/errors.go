package paysig

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// ErrorDomain is the ErrorInfo domain of paysig's errors.
const ErrorDomain = "paysig.v1"

// RequestIDKey is the trailing metadata key under which the server sends the
// id of every answer, the one its audit line and logs carry.
const RequestIDKey = "x-request-id"

// FieldViolation is one broken rule of a request.
type FieldViolation struct {
	// Field is the request field path, e.g. "order.out_trade_no".
	Field string
	// Reason is the rule: REQUIRED, NOT_ALLOWED, FORMAT, OUT_OF_RANGE,
	// TOO_LONG, MISMATCH or UNSUPPORTED.
	Reason string
	// Description says what the field must be.
	Description string
}

// Error is a failed paysig call with the server's rich error details. It
// wraps the gRPC error it was made from (errors.Unwrap, errors.As) and its
// GRPCStatus keeps every detail the server sent.
type Error struct {
	// Code is the gRPC status code.
	Code codes.Code
	// Message is the status message.
	Message string
	// Reason is the stable ErrorInfo reason (INVALID_REQUEST, APP_NOT_FOUND,
	// KEY_NOT_CONFIGURED, API_NOT_SUPPORTED_FOR_APP_KIND, ...), empty when the
	// error did not come from paysig (e.g. UNAVAILABLE from the transport).
	Reason string
	// Violations lists every broken field rule of an INVALID_ARGUMENT error.
	Violations []FieldViolation
	// RequestID is the server's id of the call (its audit line and logs carry
	// it), empty when the call never reached a paysig server.
	RequestID string
	// RetryDelay is how long the server asks to wait before retrying (its
	// google.rpc.RetryInfo, e.g. with RESOURCE_EXHAUSTED/RATE_LIMITED); zero
	// when it gave none.
	RetryDelay time.Duration

	status *status.Status
	err    error
}

// Error formats the code, the reason (when paysig gave one), the message and
// the request id (when there is one).
func (e *Error) Error() string {
	s := "paysig: " + e.Code.String()
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	s += ": " + e.Message
	if e.RequestID != "" {
		s += fmt.Sprintf(" [request id %s]", e.RequestID)
	}
	return s
}

// GRPCStatus returns the status the server sent, details included, so
// status.Code, status.FromError and status.Convert see through an *Error.
func (e *Error) GRPCStatus() *status.Status {
	if e.status != nil {
		return e.status
	}
	return status.New(e.Code, e.Message)
}

// Unwrap returns the gRPC error the Error was made from (nil for errors the
// client made itself, such as a malformed push).
func (e *Error) Unwrap() error { return e.err }

// Violation returns the violation of field, if any.
func (e *Error) Violation(field string) (FieldViolation, bool) {
	for _, v := range e.Violations {
		if v.Field == field {
			return v, true
		}
	}
	return FieldViolation{}, false
}

// wrapError turns a gRPC error into an *Error with the request id found in
// trailer; nil stays nil.
func wrapError(err error, trailer metadata.MD) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	out := &Error{Code: st.Code(), Message: st.Message(), RequestID: requestID(trailer), status: st, err: err}
	for _, detail := range st.Details() {
		switch d := detail.(type) {
		case *errdetails.ErrorInfo:
			if d.GetDomain() == ErrorDomain {
				out.Reason = d.GetReason()
			}
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				out.Violations = append(out.Violations, FieldViolation{
					Field: v.GetField(), Reason: v.GetReason(), Description: v.GetDescription()})
			}
		case *errdetails.RetryInfo:
			if delay := d.GetRetryDelay(); delay.IsValid() {
				out.RetryDelay = delay.AsDuration()
			}
		}
	}
	return out
}

func requestID(trailer metadata.MD) string {
	if values := trailer.Get(RequestIDKey); len(values) > 0 {
		return values[0]
	}
	return ""
}

// AsError returns err as an *Error when it is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
