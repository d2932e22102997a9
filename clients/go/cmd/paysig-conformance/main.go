// Command paysig-conformance is the Go runner of the cross-language
// conformance suite (tests/conformance):
//
//	paysig-conformance cases  -target ADDR -cases cases.json
//	paysig-conformance sign   -target ADDR -cases cases.json > signed.jsonl
//	paysig-conformance verify -target ADDR -signed signed.jsonl
//
// cases runs every case through the Go helpers; sign signs every successful
// SignOrder case; verify checks every paySig and user signature of the
// "signed" entries of a sign output (written by any language's runner).
// Each writes one JSON object per line on stdout, the same in every language:
//
//	{"name": "...", "ok": true, "request_id": "...", "signed": {...}}
//	{"name": "...", "ok": false, "error": "why"}
//
// and exits 1 when any failed or none ran, 2 on a usage error (on stderr).
package main

import (
	"bufio"
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

// Signed is the "signed" object of a sign result, the same in every language.
type Signed struct {
	AppID      string `json:"app_id"`
	Method     string `json:"method"`
	SignData   string `json:"sign_data"`
	PaySig     string `json:"pay_sig"`
	Signature  string `json:"signature"`
	SessionKey string `json:"session_key"`
}

// Result is one line of output.
type Result struct {
	Name      string  `json:"name"`
	OK        bool    `json:"ok"`
	Error     string  `json:"error,omitempty"`
	RequestID string  `json:"request_id,omitempty"`
	Signed    *Signed `json:"signed,omitempty"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: paysig-conformance cases|sign|verify -target ADDR [-cases FILE] [-signed FILE]")
		os.Exit(2)
	}
	flags := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	target := flags.String("target", "", "paysig server address")
	casesPath := flags.String("cases", "", "cases.json")
	signedPath := flags.String("signed", "", "output of a sign run to verify")
	_ = flags.Parse(os.Args[2:])

	client, err := paysig.Dial(*target)
	if err != nil {
		fail(err)
	}
	defer client.Close()
	ctx := context.Background()

	out := json.NewEncoder(os.Stdout)
	var passed, failed int
	report := func(r Result, err error) {
		r.OK = err == nil
		if err != nil {
			r.Error = err.Error()
			failed++
		} else {
			passed++
		}
		if encodeErr := out.Encode(r); encodeErr != nil {
			fail(encodeErr)
		}
	}
	switch os.Args[1] {
	case "cases":
		cases, err := conformance.LoadCases(*casesPath)
		if err != nil {
			fail(err)
		}
		for _, c := range cases {
			var id string
			err := conformance.Run(ctx, client, c, paysig.RequestID(&id))
			report(Result{Name: c.Name, RequestID: id}, err)
		}
	case "sign":
		cases, err := conformance.LoadCases(*casesPath)
		if err != nil {
			fail(err)
		}
		for _, c := range cases {
			if c.RPC != "SignOrder" || c.Expect.Response == nil {
				continue
			}
			req := &paysigv1.SignOrderRequest{}
			if err := protojson.Unmarshal(c.Request, req); err != nil {
				fail(err)
			}
			var id string
			resp, err := client.SignOrder(ctx, req, paysig.RequestID(&id))
			r := Result{Name: c.Name, RequestID: id}
			if err == nil {
				r.Signed = &Signed{AppID: req.GetAppId(), Method: resp.GetMethod(), SignData: resp.GetSignData(),
					PaySig: resp.GetPaySig(), Signature: resp.GetSignature(), SessionKey: req.GetSessionKey()}
			}
			report(r, err)
		}
	case "verify":
		signed, err := readSigned(*signedPath)
		if err != nil {
			fail(err)
		}
		for _, s := range signed {
			report(Result{Name: s.Name}, verify(ctx, client, *s.Signed))
		}
	default:
		fail(fmt.Errorf("unknown command %q", os.Args[1]))
	}
	if failed > 0 || passed == 0 {
		os.Exit(1)
	}
}

// readSigned returns the results with a "signed" object of a sign output.
func readSigned(path string) ([]Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Result
	lines := bufio.NewScanner(f)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	for lines.Scan() {
		if len(lines.Bytes()) == 0 {
			continue
		}
		var r Result
		if err := json.Unmarshal(lines.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if r.Signed != nil {
			out = append(out, r)
		}
	}
	return out, lines.Err()
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
