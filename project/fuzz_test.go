package project

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hostpersist/hpr/idmap"
)

// FuzzLoad loads arbitrary bytes as hpr.toml. Load must not panic; every
// error must be an *Error on one line, free of control characters, that
// starts with the path and has a line; every project it accepts must
// satisfy the documented invariants.
func FuzzLoad(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		locate(string(data)) // must survive text the parser rejects too
		file := filepath.Join(t.TempDir(), FileName)
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Load(file)
		if err != nil {
			msg := err.Error()
			if strings.ContainsFunc(msg, func(r rune) bool { return r < ' ' || r == 0x7f }) {
				t.Errorf("message has control characters or is not one line: %q", msg)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %q is a %T, want *Error", msg, err)
			}
			if !strings.HasPrefix(msg, file+":") {
				t.Errorf("message %q does not start with the path", msg)
			}
			if e.Line < 1 {
				t.Errorf("error has no line: %q", msg)
			}
			return
		}
		if !validName(p.Name) {
			t.Errorf("Name %q is invalid", p.Name)
		}
		if m := p.Run.Mount; m == "/" || path.Clean(m) != m || !path.IsAbs(m) {
			t.Errorf("Mount %q", m)
		}
		switch p.Run.User {
		case idmap.OverrideAuto, idmap.OverrideRoot, idmap.OverrideImage:
		default:
			t.Errorf("User %q", p.Run.User)
		}
		if p.Image.Ref != "" && p.Image.Building() {
			t.Errorf("both Ref and BuildContext set")
		}
		if p.Image.Building() && p.Image.DockerfileInContext() == "" {
			t.Errorf("Dockerfile %q not in context %q", p.Image.Dockerfile, p.Image.BuildContext)
		}
		for _, port := range p.Run.Ports {
			if port.HostPort == 0 || port.ContainerPort == 0 || (port.Protocol != "tcp" && port.Protocol != "udp") {
				t.Errorf("port %+v", port)
			}
		}
		if !slices.IsSortedFunc(p.Run.Env, func(a, b string) int {
			ka, _, _ := strings.Cut(a, "=")
			kb, _, _ := strings.Cut(b, "=")
			return strings.Compare(ka, kb)
		}) {
			t.Errorf("Env not sorted: %q", p.Run.Env)
		}
		for _, v := range p.Run.Volumes {
			if !strings.HasPrefix(v.Name, "hpr-"+p.Name+"-") || !path.IsAbs(v.Target) {
				t.Errorf("volume %+v", v)
			}
		}
	})
}
