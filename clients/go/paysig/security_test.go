package paysig_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/paysig/paysig/clients/go/internal/conformance"
	"github.com/paysig/paysig/clients/go/internal/testserver"
	"github.com/paysig/paysig/clients/go/paysig"
)

const testToken = "go-test-token-5a1c9e7f3b"

// securedServer starts a server with token auth and the given [tls] section
// (may be empty) over the conformance apps; it returns the address.
func securedServer(t *testing.T, tlsSection string) string {
	addr, _ := securedServerWith(t, tlsSection, "")
	return addr
}

// securedServerWith is securedServer with callerExtra appended to the
// caller's section (e.g. a rate limit); it also returns the audit log path.
func securedServerWith(t *testing.T, tlsSection, callerExtra string) (addr, auditPath string) {
	t.Helper()
	root, err := conformance.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	apps, err := os.ReadFile(filepath.Join(root, "tests", "conformance", "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(testToken))
	auditPath = filepath.Join(t.TempDir(), "audit.log")
	config := fmt.Sprintf("%s\n[auth]\nmode = \"token\"\n%s\n[audit]\npath = %q\n[[callers]]\nname = \"go-test\"\n"+
		"token_sha256 = \"%s\"\napps = [\"mg\"]\n%s\n", apps, tlsSection, auditPath, hex.EncodeToString(sum[:]), callerExtra)
	path := filepath.Join(t.TempDir(), "paysig.toml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := testserver.Start(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("server stop: %v", err)
		}
	})
	return srv.Address, auditPath
}

func wantCode(t *testing.T, err error, code codes.Code, reason string) {
	t.Helper()
	perr, ok := paysig.AsError(err)
	if !ok || perr.Code != code || perr.Reason != reason {
		t.Fatalf("want %v/%s, got %v", code, reason, err)
	}
}

func TestTokenOverLoopbackPlaintext(t *testing.T) {
	addr := securedServer(t, "")
	withToken, err := paysig.Dial(addr, paysig.WithInsecureToken(testToken))
	if err != nil {
		t.Fatal(err)
	}
	defer withToken.Close()
	if _, err := withToken.SignOrder(context.Background(), order("tok-0001")); err != nil {
		t.Fatal(err)
	}
	req := order("tok-0002")
	req.AppId = "mp"
	_, err = withToken.SignOrder(context.Background(), req)
	wantCode(t, err, codes.PermissionDenied, "APP_NOT_ALLOWED")

	wrong, _ := paysig.Dial(addr, paysig.WithInsecureToken("not-the-token"))
	defer wrong.Close()
	_, err = wrong.SignOrder(context.Background(), order("tok-0003"))
	wantCode(t, err, codes.Unauthenticated, "INVALID_TOKEN")
}

func TestTLSWithToken(t *testing.T) {
	dir := t.TempDir()
	caPool := writeTestPKI(t, dir)
	addr := securedServer(t, fmt.Sprintf("[tls]\ncert_file = %q\nkey_file = %q\n",
		filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")))
	_, port, _ := net.SplitHostPort(addr)
	tlsConfig := &tls.Config{RootCAs: caPool, ServerName: "localhost", MinVersion: tls.VersionTLS12}

	client, err := paysig.Dial("localhost:"+port, paysig.WithTLS(tlsConfig), paysig.WithToken(testToken))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	resp, err := client.SignOrder(context.Background(), order("tls-0001"))
	if err != nil || resp.GetKeyVersion() != 1 {
		t.Fatalf("%v %v", resp, err)
	}

	anonymous, _ := paysig.Dial("localhost:"+port, paysig.WithTLS(tlsConfig))
	defer anonymous.Close()
	_, err = anonymous.SignOrder(context.Background(), order("tls-0002"))
	wantCode(t, err, codes.Unauthenticated, "MISSING_CREDENTIALS")

	plaintext, _ := paysig.Dial("localhost:"+port, paysig.WithTimeout(time.Second))
	defer plaintext.Close()
	_, err = plaintext.SignOrder(context.Background(), order("tls-0003"))
	if perr, ok := paysig.AsError(err); !ok || (perr.Code != codes.Unavailable && perr.Code != codes.DeadlineExceeded) {
		t.Fatalf("plaintext to a TLS server: %v", err)
	}
}

// writeTestPKI writes a throw-away CA and a server certificate for
// localhost/127.0.0.1 (server.pem, server.key mode 0600) and returns the CA pool.
func writeTestPKI(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, serverKey := newKey(), newKey()
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "go-test-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	server := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	serverDER, err := x509.CreateCertificate(rand.Reader, server, caCert, &serverKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(serverKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, blockType string, der []byte, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("server.pem", "CERTIFICATE", serverDER, 0o644)
	write("server.key", "PRIVATE KEY", keyDER, 0o600)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return pool
}
