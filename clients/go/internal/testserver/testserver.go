// Package testserver starts the real Python paysig server for Go tests.
package testserver

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/paysig/paysig/clients/go/internal/conformance"
)

// Server is a running `python -m paysig serve` process.
type Server struct {
	// Address is host:port of the server.
	Address string
	cmd     *exec.Cmd
}

// Start runs `python -m paysig serve` on 127.0.0.1:0 with the config at
// configPath (absolute, or relative to the repository root). The interpreter
// is $PAYSIG_PYTHON, else the repository's .venv.
func Start(configPath string) (*Server, error) {
	root, err := conformance.RepoRoot()
	if err != nil {
		return nil, err
	}
	python := os.Getenv("PAYSIG_PYTHON")
	if python == "" {
		python = filepath.Join(root, ".venv", "bin", "python")
	}
	if _, err := os.Stat(python); err != nil {
		return nil, fmt.Errorf("no Python interpreter with paysig at %s: run `make test` (or set PAYSIG_PYTHON)", python)
	}
	if !filepath.IsAbs(configPath) {
		configPath = filepath.Join(root, configPath)
	}
	cmd := exec.Command(python, "-m", "paysig", "serve", "--config", configPath,
		"--listen", "127.0.0.1:0", "--grace", "5")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := bufio.NewReader(stderr)
	first, err := lines.ReadString('\n')
	var serving struct {
		Event   string `json:"event"`
		Address string `json:"address"`
	}
	if err != nil || json.Unmarshal([]byte(first), &serving) != nil || serving.Event != "serving" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("server did not start: %q", first)
	}
	go func() { _, _ = io.Copy(io.Discard, lines) }()
	return &Server{Address: serving.Address, cmd: cmd}, nil
}

// Stop sends SIGTERM and waits for a clean exit.
func (s *Server) Stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		return errors.New("server did not stop within 15s of SIGTERM")
	}
}
