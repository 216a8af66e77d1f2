package docker

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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

func TestDirArchive(t *testing.T) {
	tests := []struct {
		name    string
		dirs    []dir
		want    []entry
		wantErr bool
	}{
		{
			name: "volume roots deduplicated",
			dirs: []dir{{"/data/", 2000, 2000, 0o755}, {"/data", 0, 0, 0o700}, {"/usr/local/bundle", 0, 0, 0o1777}},
			want: []entry{
				{"data", tar.TypeDir, 0o755, 2000, 2000, ""},
				{"usr/local/bundle", tar.TypeDir, 0o1777, 0, 0, ""},
			},
		},
		{name: "relative dir", dirs: []dir{{path: "home/alice"}}, wantErr: true},
		{name: "root dir", dirs: []dir{{path: "/"}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := dirArchive(tt.dirs, time.Unix(0, 0))
			if (err != nil) != tt.wantErr {
				t.Fatalf("dirArchive() error = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if diff := cmp.Diff(tt.want, readTar(t, b)); diff != "" {
				t.Errorf("dirArchive() (-want +got):\n%s", diff)
			}
		})
	}
}
