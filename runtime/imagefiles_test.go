package runtime

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadFiles(t *testing.T) {
	content := map[string]string{"/etc/passwd": "root:x:0:0::/root:/bin/sh\n", "/etc/group": ""}
	var mu sync.Mutex
	var asked []string
	read := func(file string) ([]byte, error) {
		mu.Lock()
		asked = append(asked, file)
		mu.Unlock()
		switch c, ok := content[file]; {
		case ok:
			return []byte(c), nil
		case file == "/etc":
			return nil, errors.New("/etc is not a regular file")
		default:
			return nil, fmt.Errorf("no %s: %w", file, ErrNotFound)
		}
	}
	got, err := ReadFiles("img", []string{"/etc/passwd", "etc/group", "/etc/shadow"}, read)
	want := map[string][]byte{"/etc/passwd": []byte(content["/etc/passwd"]), "etc/group": {}}
	if diff := cmp.Diff(want, got); err != nil || diff != "" {
		t.Errorf("ReadFiles() = %v; (-want +got):\n%s", err, diff)
	}
	if len(asked) != 3 {
		t.Errorf("read %q, want each path once", asked)
	}
	if _, err := ReadFiles("img", []string{"/etc/passwd", "/etc"}, read); err == nil || !strings.Contains(err.Error(), "reading /etc from image img: /etc is not a regular file") {
		t.Errorf("ReadFiles(/etc) = %v, want an error naming /etc and the image", err)
	}
}
