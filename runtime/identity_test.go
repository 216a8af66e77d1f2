package runtime

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime/cache"
)

func TestAppendEntry(t *testing.T) {
	const passwd = "root:x:0:0:root:/root:/bin/bash\nnode:x:1000:1000::/home/node:/bin/sh"
	for _, tc := range []struct {
		name, file, line string
		fields           int
		want             string
		changed, err     bool
	}{
		{"adds, ending the last line", passwd, "alice:x:2000:2000:hpr:/home/alice:/bin/sh", 7,
			passwd + "\nalice:x:2000:2000:hpr:/home/alice:/bin/sh\n", true, false},
		{"keeps an existing id", passwd, "other:x:1000:1000::/:/bin/sh", 7, passwd, false, false},
		{"empty file", "", "g:x:2000:", 4, "g:x:2000:\n", true, false},
		{"malformed", passwd, "alice:x:2000", 7, "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed, err := AppendEntry([]byte(tc.file), tc.line, tc.fields)
			if (err != nil) != tc.err || changed != tc.changed {
				t.Fatalf("changed %v, err %v; want %v, %v", changed, err, tc.changed, tc.err)
			}
			if !tc.err && string(got) != tc.want {
				t.Errorf("(-want +got)\n%s", cmp.Diff(tc.want, string(got)))
			}
		})
	}
}

// The identity is files in the cache, mounted read-only, and a tmpfs HOME
// owned by the plan's user; an image that has the user gets nothing.
func TestIdentityMounts(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	plan := idmap.Plan{UID: 2000, GID: 2000, PasswdLine: "hprtest:x:2000:2000:hpr:/home/hprtest:/bin/sh",
		GroupLine: "hprtest:x:2000:", Home: "/home/hprtest", CreateHome: true}
	id, err := makeIdentity(cache.Open(), plan, []byte("root:x:0:0:root:/root:/bin/sh\n"), []byte("root:x:0:\n"))
	if err != nil {
		t.Fatal(err)
	}
	passwd, err := os.ReadFile(id.PasswdFile)
	if err != nil || string(passwd) != "root:x:0:0:root:/root:/bin/sh\n"+plan.PasswdLine+"\n" {
		t.Errorf("passwd file %q, %v", passwd, err)
	}
	if fi, err := os.Stat(id.PasswdFile); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("passwd file mode: %v, %v", fi.Mode(), err)
	}
	spec, err := withIdentity(ContainerSpec{Plan: plan, Identity: id, Mounts: []Mount{{Source: "/p", Target: "/app"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Mount{{Source: "/p", Target: "/app"}, {Source: id.PasswdFile, Target: "/etc/passwd", ReadOnly: true}, {Source: id.GroupFile, Target: "/etc/group", ReadOnly: true}}
	if diff := cmp.Diff(want, spec.Mounts); diff != "" {
		t.Errorf("mounts (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]Tmpfs{{Target: "/home/hprtest", UID: 2000, GID: 2000, Mode: 0o755}}, spec.Tmpfs); diff != "" {
		t.Errorf("tmpfs (-want +got)\n%s", diff)
	}

	none, err := makeIdentity(cache.Open(), idmap.Plan{UID: 1000, GID: 1000, Home: "/home/node"}, nil, nil)
	if err != nil || none != (Identity{}) {
		t.Errorf("an image with the user: identity %+v, %v; want none", none, err)
	}
}
