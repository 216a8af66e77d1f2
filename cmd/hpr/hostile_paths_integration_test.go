//go:build integration

package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
)

// attack is one hostile project: files the attacker writes (a value
// "->T" is a symlink to T), what the refusal must name, and the grants
// that let it through.
type attack struct {
	name  string
	files func(c testenv.Canaries, proj string) map[string]string
	// points is where the refusal must say the path points; key the
	// --allow it must name.
	points func(c testenv.Canaries, proj string) (points, key string)
	// grants are the --allow keys of a granted run; nil: the attack is
	// not run granted (it would harm the machine, or hpr has no grant).
	grants func(c testenv.Canaries, proj string) []string
	// grantedReads: a granted run reads the canary (the test can see a
	// leak); otherwise it must still leave everything outside unchanged.
	grantedReads bool
	// unsupported: hpr refuses the key itself (nothing to grant yet); the
	// refusal must still be one line, exit 125, nothing read or changed.
	unsupported bool
}

const hostileImage = "debian:bookworm-slim"

// service is a compose file with a dev service running as root that binds
// the project and runs cmd, with extra lines of service keys.
func service(cmd string, extra ...string) string {
	return "services:\n  dev:\n    image: " + hostileImage + "\n    user: root\n    volumes:\n      - .:/app\n" +
		strings.Join(extra, "") + "    command: [\"sh\", \"-c\", " + fmt.Sprintf("%q", cmd) + "]\n"
}

func bindAttack(name, link string, target func(c testenv.Canaries) string, sub string, grant bool) attack {
	a := attack{
		name: name,
		files: func(c testenv.Canaries, proj string) map[string]string {
			return map[string]string{
				link:                 "->" + target(c),
				"docker-compose.yml": service("cat /x/secret /x 2>&1; echo appended >> /x/secret 2>/dev/null; true", "      - ./"+link+sub+":/x\n"),
			}
		},
		points: func(c testenv.Canaries, proj string) (string, string) {
			p := filepath.Join(target(c), sub)
			return p, "bind:" + p
		},
		grantedReads: grant,
	}
	if grant {
		a.grants = func(c testenv.Canaries, proj string) []string {
			return []string{"bind:" + filepath.Join(target(c), sub)}
		}
	}
	return a
}

func rootCanary(testenv.Canaries) string   { return testenv.RootCanaryDir }
func homeCanary(c testenv.Canaries) string { return c.Home }

// attacks are the path attacks of issue 22.
func attacks() []attack {
	creds := func(c testenv.Canaries) string { return filepath.Join(c.Home, "credentials") }
	return []attack{
		bindAttack("link-to-root-canary", "link", rootCanary, "", true),
		bindAttack("link-to-slash", "link", func(testenv.Canaries) string { return "/" }, "/var/lib/hpr-harness/canary", true),
		pointsAt(bindAttack("proc-self-root", "link", func(testenv.Canaries) string { return "/proc/self/root" }, "/var/lib/hpr-harness/canary", false), testenv.RootCanaryDir),
		bindAttack("proc-1-root", "link", func(testenv.Canaries) string { return "/proc/1/root" }, "/var/lib/hpr-harness/canary", false),
		bindAttack("link-to-home", "h", homeCanary, "", true),
		bindAttack("engine-volume-store", "vl", func(testenv.Canaries) string { return "/var/lib/docker" }, "/volumes", false),
		bindAttack("engine-socket", "s", func(testenv.Canaries) string { return "/run" }, "/docker.sock", false),
		{
			name: "missing-below-link-selinux",
			files: func(c testenv.Canaries, proj string) map[string]string {
				return map[string]string{
					"le":                 "->/etc",
					"hpr.toml":           "[compose]\nfile = \"docker-compose.yml\"\n\n[run]\nselinux = \"shared\"\n",
					"docker-compose.yml": service("ls -d /x", "      - ./le/hpr-hostile-newdir:/x\n"),
				}
			},
			points: func(c testenv.Canaries, proj string) (string, string) {
				return "/etc/hpr-hostile-newdir", "bind:/etc/hpr-hostile-newdir"
			},
			// Granted, hpr still refuses to have the engine create it.
			grants: func(c testenv.Canaries, proj string) []string { return []string{"bind:/etc/hpr-hostile-newdir"} },
		},
		{
			name: "env-file-outside",
			files: func(c testenv.Canaries, proj string) map[string]string {
				return map[string]string{"docker-compose.yml": service("env", "    env_file: "+creds(c)+"\n")}
			},
			points:       func(c testenv.Canaries, proj string) (string, string) { return creds(c), "read:" + creds(c) },
			grants:       func(c testenv.Canaries, proj string) []string { return []string{"read:" + creds(c)} },
			grantedReads: true,
		},
		{
			name: "dotenv-symlink",
			files: func(c testenv.Canaries, proj string) map[string]string {
				return map[string]string{".env": "->" + creds(c), "docker-compose.yml": service("env", "    environment:\n      X: ${SECRET}\n")}
			},
			points:       func(c testenv.Canaries, proj string) (string, string) { return creds(c), "read:" + creds(c) },
			grants:       func(c testenv.Canaries, proj string) []string { return []string{"read:" + creds(c)} },
			grantedReads: true,
		},
		{
			name: "extends-outside",
			files: func(c testenv.Canaries, proj string) map[string]string {
				return map[string]string{"docker-compose.yml": service("env", "    extends:\n      file: "+filepath.Join(c.Home, "base.yml")+"\n      service: base\n")}
			},
			points: func(c testenv.Canaries, proj string) (string, string) {
				p := filepath.Join(c.Home, "base.yml")
				return p, "read:" + p
			},
			grants: func(c testenv.Canaries, proj string) []string {
				return []string{"read:" + filepath.Join(c.Home, "base.yml")}
			},
			grantedReads: true,
		},
		{
			name: "build-context-outside",
			files: func(c testenv.Canaries, proj string) map[string]string {
				return map[string]string{
					"Dockerfile":         "FROM " + hostileImage + "\nCOPY credentials /leak\n",
					"docker-compose.yml": strings.Replace(service("cat /leak"), "    image: "+hostileImage+"\n", "    build:\n      context: ..\n      dockerfile: "+filepath.Base(proj)+"/Dockerfile\n", 1),
				}
			},
			points:       func(c testenv.Canaries, proj string) (string, string) { return c.Home, "read:" + c.Home },
			grants:       func(c testenv.Canaries, proj string) []string { return []string{"read:" + c.Home} },
			grantedReads: true,
		},
		{
			name: "hpr-toml-build-outside",
			files: func(c testenv.Canaries, proj string) map[string]string {
				return map[string]string{
					"hpr.toml":   "[image]\nbuild = \"..\"\ndockerfile = \"" + filepath.Base(proj) + "/Dockerfile\"\n\n[run]\ncommand = [\"cat\", \"/leak\"]\n",
					"Dockerfile": "FROM " + hostileImage + "\nCOPY credentials /leak\n",
				}
			},
			points:       func(c testenv.Canaries, proj string) (string, string) { return c.Home, "read:" + c.Home },
			grants:       func(c testenv.Canaries, proj string) []string { return []string{"read:" + c.Home} },
			grantedReads: true,
		},
		unsupported("driver-opts-bind-volume", func(c testenv.Canaries) string {
			return service("cat /v/secret", "      - loot:/v\n") + "volumes:\n  loot:\n    driver_opts: {type: none, o: bind, device: " + c.Home + "}\n"
		}),
		unsupported("external-volume", func(c testenv.Canaries) string {
			return service("ls /v", "      - loot:/v\n") + "volumes:\n  loot:\n    external: true\n"
		}),
		unsupported("include-outside", func(c testenv.Canaries) string {
			return "include:\n  - " + filepath.Join(c.Home, "base.yml") + "\n" + service("env")
		}),
		unsupported("secrets-file-outside", func(c testenv.Canaries) string {
			return service("cat /run/secrets/loot", "    secrets: [loot]\n") + "secrets:\n  loot:\n    file: " + filepath.Join(c.Home, "credentials") + "\n"
		}),
		swapAttack("swap-after-companion", "rm -rf /w/d/sub && ln -s %s /w/d/sub", "service_completed_successfully"),
		swapAttack("swap-loop", "while true; do rm -rf /w/d/sub; ln -s %s /w/d/sub; rm -f /w/d/sub; mkdir /w/d/sub; done", "service_started"),
	}
}

// unsupported is an attack through a key hpr does not support yet.
func unsupported(name string, compose func(c testenv.Canaries) string) attack {
	return attack{
		name: name,
		files: func(c testenv.Canaries, proj string) map[string]string {
			return map[string]string{"docker-compose.yml": compose(c)}
		},
		points:      func(testenv.Canaries, string) (string, string) { return "", "" },
		unsupported: true,
	}
}

// swapAttack is a companion that mounts the project and replaces ./d/sub
// with a symlink to the home canary (once, or in a loop) before or while
// the dev service, which binds ./d/sub, is created.
func swapAttack(name, script, cond string) attack {
	return attack{
		name: name,
		files: func(c testenv.Canaries, proj string) map[string]string {
			return map[string]string{
				"d/sub/secret": "harmless\n",
				"docker-compose.yml": service("cat /x/secret", "      - ./d/sub:/x\n", "    depends_on:\n      swap:\n        condition: "+cond+"\n") +
					"  swap:\n    image: " + hostileImage + "\n    volumes:\n      - .:/w\n    command: [\"sh\", \"-c\", " + fmt.Sprintf("%q", fmt.Sprintf(script, c.Home)) + "]\n",
			}
		},
		points: func(c testenv.Canaries, proj string) (string, string) {
			return filepath.Join(proj, "d/sub"), "bind:" + filepath.Join(proj, "d/sub")
		},
	}
}

// hostileModes are the engines where container root is the host's root
// (or hpr's --userns=host makes it so): where these attacks got through.
var hostileModes = []idmap.Mode{idmap.DockerRootful, idmap.PodmanRootful, idmap.DockerUsernsRemap}

// TestHostileProjectPaths runs every path attack of issue 22 on the engines where
// it got through, as the non-root test user with no --allow: each ends
// with exit 125, one line naming the key, where it points and the
// --allow, the canaries unread and nothing changed outside the project.
// Then granted: the reads-a-canary ones do read it (the test can see a
// leak), the others still change nothing outside.
func TestHostileProjectPaths(t *testing.T) {
	testenv.NonRoot(t)
	for _, e := range testenv.Engines(t) {
		if !containsMode(hostileModes, e.Mode) {
			continue
		}
		t.Run(string(e.Mode), func(t *testing.T) {
			t.Parallel()
			testenv.Alive(t, e)
			for _, a := range attacks() {
				t.Run(a.name, func(t *testing.T) { hostile(t, e, a) })
			}
		})
	}
}

func containsMode(ms []idmap.Mode, m idmap.Mode) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

// hostile runs one attack refused, then granted.
func hostile(t *testing.T, e testenv.Engine, a attack) {
	c := testenv.NewCanaries(t)
	write(t, filepath.Join(c.Home, "credentials"), "SECRET="+c.HomeText+"\n")
	write(t, filepath.Join(c.Home, "base.yml"), "services:\n  base:\n    environment:\n      STOLEN: "+c.HomeText+"\n")
	proj := filepath.Join(c.Home, "proj")
	if err := os.Mkdir(proj, 0o755); err != nil {
		t.Fatal(err)
	}
	files := a.files(c, proj)
	svc := []string{}
	if _, ok := files["docker-compose.yml"]; ok {
		svc = []string{"--service", "dev"} // the swapping companion mounts the project too
	}
	for name, content := range files {
		p := filepath.Join(proj, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		write(t, p, content)
	}
	home, _ := os.UserHomeDir()
	watched := func() testenv.Snapshot {
		return testenv.Snap(1, testenv.RootCanaryDir, c.Home, "/etc", filepath.Dir(c.Home), home)
	}
	before := watched()
	code, out, errOut := hpr(t, proj, nil, append([]string{"run", "--engine", e.Endpoint}, svc...)...)
	points, key := a.points(c, proj)
	line := strings.TrimSpace(errOut)
	switch {
	case code != 125:
		t.Errorf("exit %d, want 125; stderr:\n%s", code, errOut)
	case strings.Count(line, "\n") != 0:
		t.Errorf("refusal is not one line:\n%s", errOut)
	case !a.unsupported && (!strings.Contains(line, points) || !strings.Contains(line, "--allow "+key)):
		t.Errorf("refusal %q does not name where it points (%s) and --allow %s", line, points, key)
	}
	if w := c.Leaked(out, errOut); w != "" {
		t.Errorf("%s leaked into hpr's output:\n%s%s", w, out, errOut)
	}
	if w := c.LeakedInto(proj); w != "" {
		t.Errorf("%s leaked into the project", w)
	}
	if d := outside(watched().Diff(before), proj, c.Home); d != "" {
		t.Errorf("changed outside the project:\n%s", d)
	}
	if a.grants == nil || t.Failed() {
		return
	}
	args := append([]string{"run", "--engine", e.Endpoint}, svc...)
	for _, k := range a.grants(c, proj) {
		args = append(args, "--allow", k)
	}
	before = watched()
	code, out, errOut = hpr(t, proj, nil, args...)
	leaked := c.Leaked(out, errOut)
	switch {
	case a.grantedReads && leaked == "":
		t.Errorf("granted %v, the run did not read the canary (exit %d): the test cannot see a leak\n%s%s", args, code, out, errOut)
	case !a.grantedReads:
		if leaked != "" {
			t.Errorf("granted %v, %s leaked", args, leaked)
		}
	}
	if d := outside(watched().Diff(before), proj, c.Home); d != "" && !a.grantedReads {
		t.Errorf("granted, changed outside the project:\n%s", d)
	}
}

// outside keeps the lines of a snapshot diff about paths outside project
// proj, leaving out the canaries other tests running beside make in the
// home directory (not this test's, whose changes count).
func outside(diff, proj, mine string) string {
	var out []string
	for _, l := range strings.Split(diff, "\n") {
		p, _, _ := strings.Cut(l, ": ")
		switch {
		case l == "", p == proj, strings.HasPrefix(p, proj+"/"):
		case p == filepath.Dir(mine): // the home directory: other tests' canaries come and go
		case strings.Contains(filepath.Base(p), ".hpr-canary-") && p != mine:
		default:
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// pointsAt is a with the refusal expected to name where (a magic link hpr
// may read resolves to what it names).
func pointsAt(a attack, where string) attack {
	a.points = func(testenv.Canaries, string) (string, string) { return where, "bind:" + where }
	return a
}
