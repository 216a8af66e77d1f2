package project

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hostile are project files a repository may ship to exhaust hpr: each must
// be refused with one line naming the file and the line, quickly.
var hostile = []struct {
	name, file, text, want string
	dotenv                 string
}{
	{name: "deep arrays", file: FileName, text: "x = " + strings.Repeat("[", 1_000_000) + "\n",
		want: ":1:37: arrays and inline tables nest more than 32 deep"},
	{name: "3 MB of brackets", file: FileName, text: "x = " + strings.Repeat("[", 3_000_000) + "\n",
		want: ":1: the file goes on past 1 MiB"},
	{name: "deep inline tables", file: FileName, text: "x = " + strings.Repeat("{a=", 8000) + "1" + strings.Repeat("}", 8000) + "\n",
		want: ":1:101: arrays and inline tables nest more than 32 deep"},
	{name: "brackets in strings and comments", file: FileName, text: "# " + strings.Repeat("[", 100) + "\nname = \"" + strings.Repeat("{", 100) + "\"\n[run]\nmount = '''\n" + strings.Repeat("[", 100) + "'''\nports = [[\n",
		want: "invalid TOML"},
	{name: "large hpr.toml", file: FileName, text: "# " + strings.Repeat("a", 2<<20) + "\n",
		want: ":1: the file goes on past 1 MiB, the most hpr reads of an hpr.toml (make it smaller)"},
	{name: "many ports", file: FileName, text: "[image]\nref = \"x\"\n[run]\nports = [\n" + ports(1000) + "]\n",
		want: ":105: [run] ports: more than 100 ports"},
	{name: "deep interpolation", file: "compose.yaml", text: composeWith("command: \"" + strings.Repeat("${X:-", 8000) + "y" + strings.Repeat("}", 8000) + "\""),
		want: "compose.yaml:5: services.dev.command nests ${...} more than 8 deep"},
	{name: "large compose file", file: "compose.yaml", text: composeWith("#" + strings.Repeat("a", 100<<20)),
		want: "compose.yaml:5: the file goes on past 1 MiB, the most hpr reads of a compose file"},
	{name: "deep compose", file: "compose.yaml", text: composeWith("x-deep: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000)),
		want: "compose.yaml:5:42: mappings and lists nest more than 32 deep"},
	{name: "compose ports", file: "compose.yaml", text: composeWith("ports: [" + ports(1000) + "]"),
		want: "compose.yaml:105: service \"dev\": ports: more than 100 ports"},
	{name: "expansion", file: "compose.yaml", text: composeWith("command: [" + strings.Repeat("\"${BIG}\", ", 20) + "]"),
		dotenv: "BIG=" + strings.Repeat("b", 1<<19) + "\n", want: "compose.yaml:5: services.dev.command[16]: its variables expand to more than 8 MiB"},
	{name: "dotenv doubling", file: "compose.yaml", text: composeWith("command: x"),
		dotenv: "A0=" + strings.Repeat("a", 1000) + "\n" + doubling(40), want: ".env: its variables expand to more than 8 MiB"},
	{name: "dotenv deep", file: "compose.yaml", text: composeWith("command: x"),
		dotenv: "A=1\nB=\"" + strings.Repeat("${X:-\n", 8000) + "\"\n", want: ".env:10: a value nests ${...} more than 8 deep"},
	{name: "large dotenv", file: "compose.yaml", text: composeWith("command: x"),
		dotenv: "A=" + strings.Repeat("a", 2<<20) + "\n", want: ".env:1: the file goes on past 1 MiB, the most hpr reads of a .env file"},
}

func ports(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "\"%d:%d\",\n", 20000+i, 20000+i)
	}
	return b.String()
}

func doubling(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "A%d=${A%d}${A%d}\n", i, i-1, i-1)
	}
	return b.String()
}

func composeWith(line string) string {
	return "services:\n  dev:\n    image: debian\n    volumes: [\".:/app\"]\n    " + line + "\n"
}

func loadHostile(t testing.TB, file, text, dotenv string) error {
	dir := t.TempDir()
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if dotenv != "" {
		if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	none := func(string) (string, bool) { return "", false }
	var err error
	if file == FileName {
		_, err = Load(path)
	} else {
		_, err = LoadCompose([]string{path}, ComposeOptions{LookupEnv: none})
	}
	return err
}

func TestHostileSizes(t *testing.T) {
	for _, tc := range hostile {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := loadHostile(t, tc.file, tc.text, tc.dotenv)
			if err == nil {
				t.Fatal("loaded; want an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") || len(msg) > 400 {
				t.Errorf("error %q, want one line with %q", msg, tc.want)
			}
			// Not a benchmark (BenchmarkHostileSizes is): a guard against
			// a limit that is checked after the slow work.
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestNotRegular(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.Symlink("/dev/zero", path); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if want := path + ": is not a regular file but a device (make it an hpr.toml)"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

// BenchmarkHostileSizes times the refusal of each hostile file.
func BenchmarkHostileSizes(b *testing.B) {
	for _, tc := range hostile {
		b.Run(strings.ReplaceAll(tc.name, " ", "_"), func(b *testing.B) {
			for b.Loop() {
				if loadHostile(b, tc.file, tc.text, tc.dotenv) == nil {
					b.Fatal("loaded")
				}
			}
		})
	}
}

// An error quoting a value that used ${UID} or ${GID} shows them as the file
// wrote them, not the markers that stand for them until the plan is known.
func TestErrorShowsIDVariables(t *testing.T) {
	err := loadHostile(t, "compose.yaml", composeWith(`ports: ["${GID}:${UID}:80"]`), "")
	if err == nil {
		t.Fatal("loaded; want an error")
	}
	if msg := err.Error(); !strings.Contains(msg, `"${GID}:${UID}:80"`) || hasMarker(msg) {
		t.Errorf("error %q, want the value as written", msg)
	}
}
