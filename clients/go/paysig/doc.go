// Package paysig is the Go client of the paysig signing service, which signs
// WeChat virtual payments (signData/paySig/signature for the client payment
// calls, pay_sig/signature for server APIs) and verifies signatures and
// payment notifications with AppKeys that never leave the server.
//
//	client, err := paysig.Dial("paysig.internal:50051")
//	if err != nil { ... }
//	defer client.Close()
//	signed, err := client.SignOrder(ctx, &paysigv1.SignOrderRequest{...})
//	var perr *paysig.Error
//	if errors.As(err, &perr) { log.Print(perr.Reason, perr.Violations) }
//
// The generated API is in the paysigv1 package
// (github.com/paysig/paysig/clients/go/paysig/v1).
package paysig
