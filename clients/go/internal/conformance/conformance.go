// Package conformance runs the language-neutral cases of
// tests/conformance/cases.json through the Go client helpers.
package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/paysig/paysig/clients/go/paysig"
	paysigv1 "github.com/paysig/paysig/clients/go/paysig/v1"
)

// Case is one conformance case.
type Case struct {
	Name    string          `json:"name"`
	RPC     string          `json:"rpc"`
	Request json.RawMessage `json:"request"`
	Expect  struct {
		Response map[string]any `json:"response"`
		Error    *struct {
			Code       string      `json:"code"`
			Reason     string      `json:"reason"`
			Violations [][2]string `json:"violations"`
		} `json:"error"`
	} `json:"expect"`
}

// RepoRoot walks up from the working directory to the folder holding
// tests/conformance/cases.json.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "tests", "conformance", "cases.json")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("tests/conformance/cases.json not found above the working directory")
		}
		dir = parent
	}
}

// LoadCases reads a cases file.
func LoadCases(path string) ([]Case, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Cases []Case `json:"cases"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return doc.Cases, nil
}

// Run sends the case's request through client (with opts, e.g.
// paysig.RequestID) and compares the outcome.
func Run(ctx context.Context, client *paysig.Client, c Case, opts ...grpc.CallOption) error {
	var resp proto.Message
	var err error
	switch c.RPC {
	case "SignOrder":
		req := &paysigv1.SignOrderRequest{}
		if err := protojson.Unmarshal(c.Request, req); err != nil {
			return fmt.Errorf("request: %w", err)
		}
		resp, err = client.SignOrder(ctx, req, opts...)
	case "SignApiCall":
		req := &paysigv1.SignApiCallRequest{}
		if err := protojson.Unmarshal(c.Request, req); err != nil {
			return fmt.Errorf("request: %w", err)
		}
		resp, err = client.SignApiCall(ctx, req, opts...)
	case "VerifySignature":
		req := &paysigv1.VerifySignatureRequest{}
		if err := protojson.Unmarshal(c.Request, req); err != nil {
			return fmt.Errorf("request: %w", err)
		}
		resp, err = client.VerifySignature(ctx, req, opts...)
	default:
		return fmt.Errorf("unknown rpc %q", c.RPC)
	}
	if want := c.Expect.Error; want != nil {
		return checkError(err, want.Code, want.Reason, want.Violations)
	}
	if err != nil {
		return fmt.Errorf("unexpected error: %w", err)
	}
	return checkResponse(resp, c.Expect.Response)
}

func checkError(err error, code, reason string, violations [][2]string) error {
	perr, ok := paysig.AsError(err)
	if !ok {
		return fmt.Errorf("want %s error, got %v", code, err)
	}
	var got [][2]string
	for _, v := range perr.Violations {
		got = append(got, [2]string{v.Field, v.Reason})
	}
	sortPairs(got)
	want := append([][2]string(nil), violations...)
	sortPairs(want)
	var wantCode codes.Code
	if err := wantCode.UnmarshalJSON([]byte(`"` + code + `"`)); err != nil {
		return fmt.Errorf("case code %q: %w", code, err)
	}
	if perr.Code != wantCode || perr.Reason != reason || !reflect.DeepEqual(got, want) {
		return fmt.Errorf("want %s/%s %v, got %s/%s %v (%s)", wantCode, reason, want, perr.Code, perr.Reason, got, perr.Message)
	}
	return nil
}

func checkResponse(resp proto.Message, want map[string]any) error {
	data, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(resp)
	if err != nil {
		return err
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		return err
	}
	for field, value := range want {
		if !reflect.DeepEqual(got[field], value) {
			return fmt.Errorf("%s: want %v, got %v", field, value, got[field])
		}
	}
	return nil
}

func sortPairs(p [][2]string) {
	sort.Slice(p, func(i, j int) bool { return p[i][0]+"\x00"+p[i][1] < p[j][0]+"\x00"+p[j][1] })
}
