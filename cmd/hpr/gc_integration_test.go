//go:build integration

package main_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/detect"
)

// TestGCRemovesOldProbes: hpr gc removes the probe images other hpr builds'
// conformance runs imported, and keeps this build's.
func TestGCRemovesOldProbes(t *testing.T) {
	testenv.NonRoot(t)
	f, err := os.Open(testenv.Bin(t))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	current := hex.EncodeToString(h.Sum(nil))[:12]
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		dir := t.TempDir()
		if code, _, errOut := hpr(t, dir, nil, "conformance", "--engine", te.Endpoint, "--json"); code != 0 {
			t.Fatalf("conformance (imports this build's probe): exit %d, stderr %q", code, errOut)
		}
		e, err := detect.Open(t.Context(), te.Endpoint, "")
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		old := []string{"hpr-probe:000000000000", "hpr-probe:000000000000-user1000"}
		for _, ref := range old {
			var tb bytes.Buffer
			tw := tar.NewWriter(&tb)
			_ = tw.WriteHeader(&tar.Header{Name: "f", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
			_, _ = tw.Write([]byte(ref[len(ref)-1:]))
			_ = tw.Close()
			if err := e.Import(t.Context(), runtime.ImportOptions{Ref: ref, Tar: &tb}); err != nil {
				t.Fatalf("importing %s: %v", ref, err)
			}
		}
		code, out, errOut := hpr(t, dir, nil, "gc", "--engine", te.Endpoint)
		if code != 0 || !strings.Contains(out, "old probe image(s)") {
			t.Fatalf("gc: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		left, err := e.ImagesNamed(t.Context(), "hpr-probe")
		if err != nil {
			t.Fatal(err)
		}
		mine := 0
		for _, img := range left {
			_, tag, _ := strings.Cut(img.Ref, ":")
			if !strings.HasPrefix(tag, current) {
				t.Errorf("after gc, %s is left (this build's probes are hpr-probe:%s*)", img.Ref, current)
			} else {
				mine++
			}
		}
		if mine == 0 {
			t.Errorf("gc removed this build's probe too: left %+v", left)
		}
	})
}

// TestGCLeavesLiveRun: hpr gc leaves alone the container of an hpr run that
// is still going; the run goes on and ends as it would have.
func TestGCLeavesLiveRun(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		p, dir := runScript(t, te, trapScript)
		if code, out, errOut := hpr(t, t.TempDir(), nil, "gc", "--engine", te.Endpoint); code != 0 {
			t.Fatalf("hpr gc: exit %d, %q %q", code, out, errOut)
		}
		left := leftContainers(t, te.Endpoint, dir)
		if len(left) != 1 || left[0].State != "running" {
			t.Errorf("after hpr gc, the live run's containers are %+v; want it running", left)
		}
		select {
		case <-p.done:
			t.Fatalf("hpr run ended after hpr gc: exit %d, output:\n%s", p.cmd.ProcessState.ExitCode(), p.out.String())
		default:
		}
		p.signal(t, os.Interrupt)
		if code := p.end(t, 20*time.Second, "SIGINT"); code != 3 {
			t.Errorf("the run ended %d after SIGINT, want its trap's 3", code)
		}
	})
}
