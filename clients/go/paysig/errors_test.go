package paysig_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paysig/paysig/clients/go/paysig"
)

// auditRequestIDs maps each audit line's out_trade_no to its request_id.
func auditRequestIDs(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ids := map[string]string{}
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		var line struct {
			RequestID  string `json:"request_id"`
			OutTradeNo string `json:"out_trade_no"`
		}
		if err := json.Unmarshal(lines.Bytes(), &line); err != nil {
			t.Fatalf("audit line %q: %v", lines.Text(), err)
		}
		ids[line.OutTradeNo] = line.RequestID
	}
	return ids
}

func TestRequestIDAndRetryDelayReachTheCaller(t *testing.T) {
	// One call's worth of burst, refilled once an hour: the second call is rate limited.
	addr, audit := securedServerWith(t, "", "rate_per_second = 0.0003\nburst = 1\n")
	client, err := paysig.Dial(addr, paysig.WithInsecureToken(testToken), paysig.WithConnections(1))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	var okID string
	if _, err := client.SignOrder(context.Background(), order("rid-00001"), paysig.RequestID(&okID)); err != nil {
		t.Fatal(err)
	}
	var failedID string
	_, err = client.SignOrder(context.Background(), order("rid-00002"), paysig.RequestID(&failedID))
	perr, ok := paysig.AsError(err)
	if !ok || perr.Code != codes.ResourceExhausted || perr.Reason != "RATE_LIMITED" {
		t.Fatalf("want RESOURCE_EXHAUSTED/RATE_LIMITED, got %v", err)
	}
	// The bucket refills at 0.0003/s, shared by the server's worker processes:
	// a whole token takes 3,333 s times the number of workers.
	if perr.RetryDelay < 3000e9 || perr.RetryDelay > 64*3400e9 {
		t.Errorf("RetryDelay %v, want a multiple of about 3333s", perr.RetryDelay)
	}
	ids := auditRequestIDs(t, audit)
	if okID == "" || okID != ids["rid-00001"] {
		t.Errorf("success: request id %q, audit says %q", okID, ids["rid-00001"])
	}
	if perr.RequestID == "" || perr.RequestID != failedID || perr.RequestID == okID {
		t.Errorf("error request id %q, option saw %q, first call %q", perr.RequestID, failedID, okID)
	}
	if want := "[request id " + perr.RequestID + "]"; !strings.Contains(perr.Error(), want) {
		t.Errorf("Error() %q lacks %q", perr.Error(), want)
	}

	// The status keeps every detail the server sent.
	st := status.Convert(err)
	var sawRetry, sawInfo bool
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.RetryInfo:
			sawRetry = d.GetRetryDelay().AsDuration() == perr.RetryDelay
		case *errdetails.ErrorInfo:
			sawInfo = d.GetReason() == "RATE_LIMITED"
		}
	}
	if st.Code() != codes.ResourceExhausted || !sawRetry || !sawInfo {
		t.Errorf("GRPCStatus lost details: %v %v", st.Code(), st.Details())
	}

	// errors.Unwrap reaches the gRPC error; errors.As finds the *Error through wrapping.
	inner := errors.Unwrap(err)
	if inner == nil || status.Code(inner) != codes.ResourceExhausted {
		t.Errorf("Unwrap: %v", inner)
	}
	var target *paysig.Error
	if !errors.As(fmt.Errorf("signing: %w", err), &target) || target != perr {
		t.Errorf("errors.As through a wrapper failed")
	}
}

func TestRequestIDOfEveryAnswer(t *testing.T) {
	client := dial(t)
	var first, second string
	if _, err := client.SignOrder(context.Background(), order("rid-00003"), paysig.RequestID(&first)); err != nil {
		t.Fatal(err)
	}
	_, err := client.BatchSignOrders(context.Background(), nil, paysig.RequestID(&second))
	perr, ok := paysig.AsError(err)
	if !ok || perr.RequestID == "" || perr.RequestID != second {
		t.Fatalf("batch error request id %v, option %q", err, second)
	}
	if first == "" || first == second {
		t.Errorf("request ids %q and %q", first, second)
	}
	if perr.RetryDelay != 0 {
		t.Errorf("RetryDelay %v without RetryInfo", perr.RetryDelay)
	}
}

func TestErrorOfAnUnreachableServer(t *testing.T) {
	client, err := paysig.Dial("127.0.0.1:1", paysig.WithTimeout(2e9), paysig.WithConnections(1))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	id := "unset"
	_, err = client.SignOrder(context.Background(), order("rid-00004"), paysig.RequestID(&id))
	perr, ok := paysig.AsError(err)
	if !ok || perr.RequestID != "" || id != "" || perr.Reason != "" {
		t.Fatalf("unreachable: %v (request id %q)", err, id)
	}
}
