package paysig

import (
	"context"
	"encoding/json"

	"google.golang.org/grpc/codes"

	paysigv1 "github.com/paysig/paysig/clients/go/paysig/v1"
)

// Notification is the part of a mini-game payment push that PayEventSig
// covers.
type Notification struct {
	// Event is the event name, e.g. "minigame_game_pay_goods_deliver_notify".
	Event string
	// Payload is the raw MiniGame.Payload JSON string, exactly as pushed.
	Payload string
	// PayEventSig is the signature to check.
	PayEventSig string
	// IsMock marks a test push.
	IsMock bool
}

// ParseNotification reads the Event, MiniGame.Payload, MiniGame.PayEventSig
// and MiniGame.IsMock fields of a raw JSON push. A malformed push is an
// *Error with code InvalidArgument and reason INVALID_NOTIFICATION.
func ParseNotification(raw []byte) (*Notification, error) {
	var push struct {
		Event    *string
		MiniGame *struct {
			Payload     *string
			PayEventSig *string
			IsMock      bool
		}
	}
	bad := func(field, description string) error {
		return &Error{Code: codes.InvalidArgument, Reason: "INVALID_NOTIFICATION",
			Message:    "invalid notification: " + field + ": " + description,
			Violations: []FieldViolation{{Field: field, Reason: "FORMAT", Description: description}}}
	}
	if err := json.Unmarshal(raw, &push); err != nil {
		return nil, bad("notification", "must be a JSON object")
	}
	switch {
	case push.Event == nil || *push.Event == "":
		return nil, bad("Event", "required: the event name")
	case push.MiniGame == nil:
		return nil, bad("MiniGame", "required: an object with Payload and PayEventSig")
	case push.MiniGame.Payload == nil:
		return nil, bad("MiniGame.Payload", "required: the signed JSON string")
	case push.MiniGame.PayEventSig == nil:
		return nil, bad("MiniGame.PayEventSig", "required: the signature")
	}
	return &Notification{Event: *push.Event, Payload: *push.MiniGame.Payload,
		PayEventSig: *push.MiniGame.PayEventSig, IsMock: push.MiniGame.IsMock}, nil
}

// VerifyEvent checks the PayEventSig of a raw mini-game payment push for
// appID (the app's name in the server config). The key is chosen by the
// Payload's Env. A mismatch is a response with Valid false.
func (c *Client) VerifyEvent(ctx context.Context, appID string, raw []byte) (*paysigv1.VerifySignatureResponse, error) {
	n, err := ParseNotification(raw)
	if err != nil {
		return nil, err
	}
	return c.VerifySignature(ctx, &paysigv1.VerifySignatureRequest{
		AppId:     appID,
		Scheme:    paysigv1.SignatureScheme_SIGNATURE_SCHEME_EVENT,
		Method:    n.Event,
		Payload:   n.Payload,
		Signature: n.PayEventSig,
	})
}
