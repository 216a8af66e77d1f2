package docker

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/idmap"
)

// entry is one tar entry as the tests compare it.
type entry struct {
	Name     string
	Type     byte
	Mode     int64
	UID, GID int
	Content  string
}

func readTar(t *testing.T, b []byte) []entry {
	t.Helper()
	if b == nil {
		return nil
	}
	var out []entry
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		c, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, string(c)})
	}
}

func TestIdentityArchive(t *testing.T) {
	const (
		passwd = "root:x:0:0:root:/root:/bin/bash\nnode:x:1000:1000::/home/node:/bin/sh\n"
		group  = "root:x:0:\nnode:x:1000:"
	)
	plan := idmap.Plan{
		Mode: idmap.DockerRootful, User: "2000:2000", UID: 2000, GID: 2000,
		PasswdLine: "alice:x:2000:2000:hpr:/home/alice:/bin/sh",
		GroupLine:  "alice:x:2000:",
		Home:       "/home/alice", CreateHome: true,
	}
	tests := []struct {
		name          string
		passwd, group string
		plan          func(p *idmap.Plan)
		dirs          []dir
		want          []entry
		wantErr       bool
	}{
		{
			name: "adds entries and HOME", passwd: passwd, group: group,
			dirs: []dir{{"/home/alice", 2000, 2000, 0o755}},
			want: []entry{
				{"etc/passwd", tar.TypeReg, 0o644, 0, 0, passwd + "alice:x:2000:2000:hpr:/home/alice:/bin/sh\n"},
				{"etc/group", tar.TypeReg, 0o644, 0, 0, group + "\nalice:x:2000:\n"},
				{"home/alice", tar.TypeDir, 0o755, 2000, 2000, ""},
			},
		},
		{
			name: "empty files",
			want: []entry{
				{"etc/passwd", tar.TypeReg, 0o644, 0, 0, "alice:x:2000:2000:hpr:/home/alice:/bin/sh\n"},
				{"etc/group", tar.TypeReg, 0o644, 0, 0, "alice:x:2000:\n"},
			},
		},
		{
			name:   "ids already present",
			passwd: passwd + "other:x:2000:2000::/:/bin/sh\n", group: group + "\nstaff:x:2000:\n",
			want: nil,
		},
		{
			name: "volume roots deduplicated", passwd: passwd + "x:x:2000:1:::\n", group: "g:x:2000:\n",
			dirs: []dir{{"/data/", 2000, 2000, 0o755}, {"/data", 0, 0, 0o700}, {"/usr/local/bundle", 0, 0, 0o1777}},
			want: []entry{
				{"data", tar.TypeDir, 0o755, 2000, 2000, ""},
				{"usr/local/bundle", tar.TypeDir, 0o1777, 0, 0, ""},
			},
		},
		{
			name: "relative dir", dirs: []dir{{path: "home/alice"}}, wantErr: true,
		},
		{
			name: "root dir", dirs: []dir{{path: "/"}}, wantErr: true,
		},
		{
			name:    "malformed passwd line",
			plan:    func(p *idmap.Plan) { p.PasswdLine = "alice:x:2000" },
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := plan
			if tt.plan != nil {
				tt.plan(&p)
			}
			b, err := identityArchive([]byte(tt.passwd), []byte(tt.group), p, tt.dirs, time.Unix(0, 0))
			if (err != nil) != tt.wantErr {
				t.Fatalf("identityArchive() error = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, readTar(t, b)); diff != "" {
				t.Errorf("identityArchive() (-want +got):\n%s", diff)
			}
		})
	}
}
