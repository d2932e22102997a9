package paysig_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/paysig/paysig/clients/go/internal/testserver"
)

// serverAddr is the real paysig server, started once for the package with the
// conformance config.
var serverAddr string

func TestMain(m *testing.M) {
	srv, err := testserver.Start("tests/conformance/config.toml")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	serverAddr = srv.Address
	code := m.Run()
	if err := srv.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "server stop:", err)
		code = 1
	}
	os.Exit(code)
}
