//go:build integration

package main_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hostpersist/hpr/internal/testenv"
)

// TestBlogEndToEnd is the seed's case on every engine: hpr run of
// examples/blog builds the image, serves the site, regenerates it when a post
// is added on the host, writes _site and .jekyll-cache owned by the test
// user, and ends on SIGINT with jekyll's own exit status (jekyll catches
// SIGINT and exits 0) and no container left.
func TestBlogEndToEnd(t *testing.T) {
	testenv.NonRoot(t)
	src := filepath.Join(testenv.Src(t), "examples", "blog")
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		dir := copyTree(t, src)
		port := freePort(t)
		toml := filepath.Join(dir, "hpr.toml")
		data, err := os.ReadFile(toml)
		if err != nil {
			t.Fatal(err)
		}
		// Five engines serve at once: give each its own host port.
		data = bytes.Replace(data, []byte(`ports = ["5000:5000"]`), []byte(fmt.Sprintf(`ports = ["127.0.0.1:%d:5000"]`, port)), 1)
		if err := os.WriteFile(toml, data, 0o644); err != nil {
			t.Fatal(err)
		}

		p := startHpr(t, dir, "run", "--engine", te.Endpoint)
		defer func() {
			if t.Failed() {
				t.Logf("hpr run output:\n%s", p.out.String())
			}
		}()

		url := fmt.Sprintf("http://127.0.0.1:%d/", port)
		// The first run builds the image (apt-get install jekyll): minutes.
		if _, err := waitBody(url, "Welcome", 10*time.Minute, p.done); err != nil {
			t.Fatalf("site not served: %v", err)
		}
		post := filepath.Join(dir, "_posts", "2026-11-02-from-the-host.md")
		if err := os.WriteFile(post, []byte("---\nlayout: default\ntitle: Added on the host\n---\nhello\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		added := time.Now()
		if _, err := waitBody(url, "Added on the host", 10*time.Second, p.done); err != nil {
			t.Errorf("a post added on the host did not appear within 10 s: %v", err)
		} else {
			t.Logf("%s: new post served %v after it was written", te.Mode, time.Since(added).Round(time.Millisecond))
		}

		p.signal(t, os.Interrupt)
		if code := p.end(t, 10*time.Second, "SIGINT"); code != 0 {
			t.Errorf("hpr run exited %d after SIGINT, want jekyll's own 0 (it catches SIGINT)", code)
		}
		if n := assertOwnedByMe(t, filepath.Join(dir, "_site")); n < 3 {
			t.Errorf("_site has %d entries, want the generated site", n)
		}
		if n := assertOwnedByMe(t, filepath.Join(dir, ".jekyll-cache")); n < 2 {
			t.Errorf(".jekyll-cache has %d entries, want jekyll's cache", n)
		}
		assertOwnedByMe(t, dir)
		if left := leftContainers(t, te.Endpoint, dir); len(left) > 0 {
			t.Errorf("containers left after SIGINT: %+v", left)
		}
	})
}

// waitBody polls url until its body contains want, the process exits, or d
// passes.
func waitBody(url, want string, d time.Duration, exited <-chan struct{}) (string, error) {
	var last string
	err := until(d, exited, func() bool {
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var b strings.Builder
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
		}
		last = b.String()
		return strings.Contains(last, want)
	})
	if err != nil {
		return last, fmt.Errorf("%q not in %s: %w (last body %q)", want, url, err, last)
	}
	return last, nil
}
