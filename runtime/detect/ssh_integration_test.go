//go:build integration

package detect_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/detect"
)

// TestSSHEngines: over the harness's sshd, as the test user, each of its
// engines answers in its mode, is not local, and runs a container whose
// stdin and output cross the connection both ways (stdin's end reaching
// the container too): Docker through the remote CLI's dial-stdio (its
// default socket, or one named in the URI), Podman through a tunnel to the
// socket named in the URI.
func TestSSHEngines(t *testing.T) {
	testenv.NonRoot(t)
	s := testenv.SSHHarness(t)
	local := map[idmap.Mode]string{}
	for _, e := range testenv.Engines(t) {
		local[e.Mode] = e.Endpoint
	}
	for _, tc := range []struct {
		mode idmap.Mode
		uri  string
	}{
		{idmap.DockerRootful, s.URI("")},
		{idmap.DockerRootless, s.URI(strings.TrimPrefix(local[idmap.DockerRootless], "unix://"))},
		{idmap.PodmanRootless, s.URI(strings.TrimPrefix(local[idmap.PodmanRootless], "unix://"))},
		{idmap.PodmanRootful, s.URI(strings.TrimPrefix(local[idmap.PodmanRootful], "unix://"))},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			if local[tc.mode] == "" {
				t.Skipf("no %s engine in the harness", tc.mode)
			}
			ctx := context.Background()
			e, err := detect.Open(ctx, tc.uri, "")
			if err != nil {
				t.Fatalf("%s: %v", tc.uri, err)
			}
			defer e.Close()
			if e.About.Mode != tc.mode || e.About.Local || e.About.Endpoint != tc.uri {
				t.Fatalf("%s: mode %s, local %v, endpoint %s; want %s, not local", tc.uri, e.About.Mode, e.About.Local, e.About.Endpoint, tc.mode)
			}
			p := basePlan(t, e)
			var out, errOut bytes.Buffer
			code, err := runtime.Run(ctx, e, runtime.RunOptions{
				Spec: runtime.ContainerSpec{
					Image: "debian:bookworm-slim", Cmd: []string{"sh", "-c", "cat; echo done"},
					OpenStdin: true, Plan: p.Plan,
					// Identity files are this machine's: a remote engine cannot mount them.
					Labels: map[string]string{runtime.LabelProject: "ssh-test"},
				},
				Streams: runtime.Streams{Stdin: strings.NewReader("over ssh\n"), Stdout: &out, Stderr: &errOut},
			})
			if err != nil || code != 0 {
				t.Fatalf("run over %s: exit %d, %v, stderr %q", tc.uri, code, err, errOut.String())
			}
			if got := out.String(); got != "over ssh\ndone\n" {
				t.Errorf("output over %s: %q, want the input then done", tc.uri, got)
			}
		})
	}
}
