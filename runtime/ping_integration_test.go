//go:build integration

package runtime

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
)

// Integration tests run as the harness's non-root test user, so a socket
// mode can refuse them.
func TestPingPermission(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Fatal("integration tests must run as a non-root user (scripts/test.sh does this)")
	}
	uri := serve(t, http.NotFoundHandler())
	sock := uri[len("unix://"):]
	if err := os.Chmod(sock, 0); err != nil {
		t.Fatal(err)
	}
	_, err := Ping(context.Background(), uri)
	if !errors.Is(err, ErrPermission) {
		t.Fatalf("error = %v, want ErrPermission", err)
	}
	if !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("error %q does not say permission denied", err)
	}
}
