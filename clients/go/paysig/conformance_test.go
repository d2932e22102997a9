package paysig_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/paysig/paysig/clients/go/internal/conformance"
	"github.com/paysig/paysig/clients/go/paysig"
)

func dial(t *testing.T, opts ...paysig.Option) *paysig.Client {
	t.Helper()
	client, err := paysig.Dial(serverAddr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func loadCases(t *testing.T) []conformance.Case {
	t.Helper()
	root, err := conformance.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cases, err := conformance.LoadCases(filepath.Join(root, "tests", "conformance", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	return cases
}

func TestConformance(t *testing.T) {
	client := dial(t)
	cases := loadCases(t)
	if len(cases) < 100 {
		t.Fatalf("only %d cases loaded", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if err := conformance.Run(context.Background(), client, c); err != nil {
				t.Error(err)
			}
		})
	}
}
