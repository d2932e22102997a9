// Package paysig is the Go client of the paysig signing service, which signs
// WeChat virtual payments (signData/paySig/signature for the client payment
// calls, pay_sig/signature for server APIs) and verifies signatures and
// payment notifications with AppKeys that never leave the server.
//
//	client, err := paysig.Dial("paysig.internal:50051")
//	if err != nil { ... }
//	defer client.Close()
//	var requestID string
//	signed, err := client.SignOrder(ctx, &paysigv1.SignOrderRequest{...}, paysig.RequestID(&requestID))
//	var perr *paysig.Error
//	if errors.As(err, &perr) { log.Print(perr.Reason, perr.Violations, perr.RequestID, perr.RetryDelay) }
//
// Payment notifications: NotificationHandler is the http.Handler of a push URL.
//
//	http.Handle("/wechat/push", paysig.NotificationHandler(client, "demo-minigame", deliver))
//
// The generated API is in the paysigv1 package
// (github.com/paysig/paysig/clients/go/paysig/v1).
package paysig
