package paysig

import (
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrorDomain is the ErrorInfo domain of paysig's errors.
const ErrorDomain = "paysig.v1"

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

// Error is a failed paysig call with the server's rich error details.
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
}

// Error formats the code, the reason (when paysig gave one) and the message.
func (e *Error) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("paysig: %s (%s): %s", e.Code, e.Reason, e.Message)
	}
	return fmt.Sprintf("paysig: %s: %s", e.Code, e.Message)
}

// GRPCStatus lets status.Code and status.FromError see through an *Error.
func (e *Error) GRPCStatus() *status.Status { return status.New(e.Code, e.Message) }

// Violation returns the violation of field, if any.
func (e *Error) Violation(field string) (FieldViolation, bool) {
	for _, v := range e.Violations {
		if v.Field == field {
			return v, true
		}
	}
	return FieldViolation{}, false
}

// wrapError turns a gRPC error into an *Error; nil stays nil.
func wrapError(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	out := &Error{Code: st.Code(), Message: st.Message()}
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
		}
	}
	return out
}

// AsError returns err as an *Error when it is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
