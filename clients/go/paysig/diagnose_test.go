package paysig_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/paysig/paysig/clients/go/paysig"
	paysigv1 "github.com/paysig/paysig/clients/go/paysig/v1"
)

// mgSandboxKeyV2 is app "mg"'s newest sandbox AppKey in tests/conformance/config.toml.
const mgSandboxKeyV2 = "mg-sandbox-key-v2"

func hmacHex(key, message string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(message))
	return hex.EncodeToString(m.Sum(nil))
}

func TestDiagnoseSignature(t *testing.T) {
	client := dial(t)
	const method = "requestMidasPaymentGameItem"
	const signData = `{"mode":"goods","offerId":"1450000001","buyQuantity":1,"env":0,"currencyType":"CNY",` +
		`"platform":"android","zoneId":"1","productId":"sword","goodsPrice":600,"outTradeNo":"go-diag-1"}`
	req := &paysigv1.DiagnoseSignatureRequest{
		AppId: "mg", Scheme: paysigv1.SignatureScheme_SIGNATURE_SCHEME_PAY_SIG, Method: method, Payload: signData,
		Signature: hmacHex(mgSandboxKeyV2, method+"&"+signData), WechatErrorCode: proto.Int32(-15014),
	}
	got, err := client.DiagnoseSignature(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetVerdict() != paysigv1.DiagnosisVerdict_DIAGNOSIS_VERDICT_EXPLAINED || len(got.GetFindings()) != 1 {
		t.Fatalf("sandbox key over env 0: %v", got)
	}
	f := got.GetFindings()[0]
	if f.GetCode() != "WRONG_ENV_KEY" || f.GetKeyEnv() != paysigv1.Env_ENV_SANDBOX || f.GetKeyVersion() != 2 {
		t.Errorf("finding: %v", f)
	}
	if got.GetErrorCodeMeaning() == "" {
		t.Error("no error_code_meaning for -15014")
	}

	req.Signature = hmacHex(mgProductionKey, method+"&"+signData)
	if got, err := client.DiagnoseSignature(context.Background(), req); err != nil ||
		got.GetVerdict() != paysigv1.DiagnosisVerdict_DIAGNOSIS_VERDICT_VALID {
		t.Fatalf("right signature: %v %v", got, err)
	}

	req.Signature = "not hex"
	_, err = client.DiagnoseSignature(context.Background(), req)
	if perr, ok := paysig.AsError(err); !ok || perr.Code != codes.InvalidArgument {
		t.Fatalf("bad signature: %v", err)
	} else if _, ok := perr.Violation("signature"); !ok {
		t.Errorf("no violation for signature: %+v", perr.Violations)
	}
}
