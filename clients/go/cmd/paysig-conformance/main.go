// Command paysig-conformance is the Go runner of the cross-language
// conformance suite (tests/conformance):
//
//	paysig-conformance cases  -target ADDR -cases cases.json
//	paysig-conformance sign   -target ADDR -cases cases.json > signed.json
//	paysig-conformance verify -target ADDR -signed signed.json
//
// sign signs every successful SignOrder case through the Go helpers; verify
// checks every paySig and user signature of a signed.json (written by any
// language's runner) through them. Each prints "N passed, M failed".
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/paysig/paysig/clients/go/internal/conformance"
	"github.com/paysig/paysig/clients/go/paysig"
	paysigv1 "github.com/paysig/paysig/clients/go/paysig/v1"
)

// Signed is one entry of signed.json, the same shape in every language.
type Signed struct {
	AppID      string `json:"app_id"`
	Method     string `json:"method"`
	SignData   string `json:"sign_data"`
	PaySig     string `json:"pay_sig"`
	Signature  string `json:"signature"`
	SessionKey string `json:"session_key"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: paysig-conformance cases|sign|verify -target ADDR [-cases FILE] [-signed FILE]")
		os.Exit(2)
	}
	flags := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	target := flags.String("target", "", "paysig server address")
	casesPath := flags.String("cases", "", "cases.json")
	signedPath := flags.String("signed", "", "signed.json to verify")
	_ = flags.Parse(os.Args[2:])

	client, err := paysig.Dial(*target)
	if err != nil {
		fail(err)
	}
	defer client.Close()
	ctx := context.Background()

	var passed, failed int
	check := func(name string, err error) {
		if err != nil {
			failed++
			fmt.Fprintf(os.Stderr, "FAIL %s: %v\n", name, err)
		} else {
			passed++
		}
	}
	switch os.Args[1] {
	case "cases":
		cases, err := conformance.LoadCases(*casesPath)
		if err != nil {
			fail(err)
		}
		for _, c := range cases {
			check(c.Name, conformance.Run(ctx, client, c))
		}
	case "sign":
		cases, err := conformance.LoadCases(*casesPath)
		if err != nil {
			fail(err)
		}
		var out []Signed
		for _, c := range cases {
			if c.RPC != "SignOrder" || c.Expect.Response == nil {
				continue
			}
			req := &paysigv1.SignOrderRequest{}
			if err := protojson.Unmarshal(c.Request, req); err != nil {
				fail(err)
			}
			resp, err := client.SignOrder(ctx, req)
			check(c.Name, err)
			if err == nil {
				out = append(out, Signed{AppID: req.GetAppId(), Method: resp.GetMethod(), SignData: resp.GetSignData(),
					PaySig: resp.GetPaySig(), Signature: resp.GetSignature(), SessionKey: req.GetSessionKey()})
			}
		}
		if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
			fail(err)
		}
	case "verify":
		data, err := os.ReadFile(*signedPath)
		if err != nil {
			fail(err)
		}
		var signed []Signed
		if err := json.Unmarshal(data, &signed); err != nil {
			fail(err)
		}
		for _, s := range signed {
			check(s.SignData, verify(ctx, client, s))
		}
	default:
		fail(fmt.Errorf("unknown command %q", os.Args[1]))
	}
	fmt.Fprintf(os.Stderr, "%d passed, %d failed\n", passed, failed)
	if failed > 0 || passed == 0 {
		os.Exit(1)
	}
}

func verify(ctx context.Context, client *paysig.Client, s Signed) error {
	paySig, err := client.VerifySignature(ctx, &paysigv1.VerifySignatureRequest{
		AppId: s.AppID, Scheme: paysigv1.SignatureScheme_SIGNATURE_SCHEME_PAY_SIG, Method: s.Method,
		Payload: s.SignData, Signature: s.PaySig})
	if err != nil {
		return err
	}
	user, err := client.VerifySignature(ctx, &paysigv1.VerifySignatureRequest{
		AppId: s.AppID, Scheme: paysigv1.SignatureScheme_SIGNATURE_SCHEME_USER_SIGNATURE,
		Payload: s.SignData, Signature: s.Signature, SessionKey: s.SessionKey})
	if err != nil {
		return err
	}
	if !paySig.GetValid() || !user.GetValid() {
		return fmt.Errorf("pay_sig valid=%v, signature valid=%v", paySig.GetValid(), user.GetValid())
	}
	return nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "paysig-conformance:", err)
	os.Exit(2)
}
