package paysig_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paysig/paysig/clients/go/paysig"
	paysigv1 "github.com/paysig/paysig/clients/go/paysig/v1"
)

// mgProductionKey is app "mg"'s production AppKey in tests/conformance/config.toml.
const mgProductionKey = "12345"

func order(outTradeNo string) *paysigv1.SignOrderRequest {
	return &paysigv1.SignOrderRequest{
		AppId: "mg", Env: paysigv1.Env_ENV_PRODUCTION, Api: paysigv1.PaymentApi_PAYMENT_API_GAME_ITEM,
		SessionKey: "9hAb/NEYUlkaMBEsmFgzig==",
		Order:      &paysigv1.Order{ProductId: "sword", GoodsPrice: 600, BuyQuantity: 1, OutTradeNo: outTradeNo},
	}
}

func TestTypedErrorCarriesViolationsAndReason(t *testing.T) {
	client := dial(t)
	req := order("_bad")
	req.Order.GoodsPrice = -1
	_, err := client.SignOrder(context.Background(), req)
	perr, ok := paysig.AsError(err)
	if !ok {
		t.Fatalf("want *paysig.Error, got %T %v", err, err)
	}
	if perr.Code != codes.InvalidArgument || perr.Reason != "INVALID_REQUEST" {
		t.Fatalf("got %v %q", perr.Code, perr.Reason)
	}
	for _, field := range []string{"order.out_trade_no", "order.goods_price"} {
		if v, ok := perr.Violation(field); !ok || v.Description == "" {
			t.Errorf("no violation for %s in %+v", field, perr.Violations)
		}
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("status.Code sees %v", status.Code(err))
	}

	_, err = client.SignOrder(context.Background(), &paysigv1.SignOrderRequest{AppId: "nope"})
	if perr, _ := paysig.AsError(err); perr == nil || perr.Code != codes.NotFound || perr.Reason != "APP_NOT_FOUND" {
		t.Errorf("unknown app: %v", err)
	}
}

func TestConcurrentSigningOverSeveralConnections(t *testing.T) {
	client := dial(t, paysig.WithConnections(4))
	var wg sync.WaitGroup
	errs := make(chan error, 64*10)
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				resp, err := client.SignOrder(context.Background(), order(fmt.Sprintf("go-%d-%d", g, i)))
				if err != nil {
					errs <- err
					return
				}
				mac := hmac.New(sha256.New, []byte(mgProductionKey))
				mac.Write([]byte("requestMidasPaymentGameItem&" + resp.GetSignData()))
				if want := hex.EncodeToString(mac.Sum(nil)); resp.GetPaySig() != want {
					errs <- fmt.Errorf("pay_sig %s, want %s", resp.GetPaySig(), want)
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestDialRejectsBadOptions(t *testing.T) {
	if _, err := paysig.Dial("127.0.0.1:1", paysig.WithConnections(0)); err == nil {
		t.Error("0 connections accepted")
	}
	if _, err := paysig.Dial("127.0.0.1:1", paysig.WithToken("t")); err == nil {
		t.Error("token over plaintext accepted")
	}
	c, err := paysig.Dial("127.0.0.1:1", paysig.WithInsecureToken("t"))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
}

func TestBatchSignOrdersAnswersEachItem(t *testing.T) {
	client := dial(t)
	bad := order("_bad")
	results, err := client.BatchSignOrders(context.Background(), []*paysigv1.SignOrderRequest{order("batch-go-1"), bad})
	if err != nil || len(results) != 2 {
		t.Fatalf("%v %v", results, err)
	}
	mac := hmac.New(sha256.New, []byte(mgProductionKey))
	mac.Write([]byte("requestMidasPaymentGameItem&" + results[0].GetResponse().GetSignData()))
	if got, want := results[0].GetResponse().GetPaySig(), hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("pay_sig %s, want %s", got, want)
	}
	if e := results[1].GetError(); e.GetCode() != "INVALID_ARGUMENT" || e.GetViolations()[0].GetField() != "order.out_trade_no" {
		t.Errorf("item error %v", e)
	}
	_, err = client.BatchSignOrders(context.Background(), nil)
	if perr, ok := paysig.AsError(err); !ok || perr.Code != codes.InvalidArgument {
		t.Errorf("empty batch: %v", err)
	}
}
