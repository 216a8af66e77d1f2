package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// TestMain lets this test binary be the probe's child process: the probe
// re-executes its own binary with `probe --child FILE`.
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "probe" && os.Args[2] == "--child" {
		if err := ProbeChild(os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// localRun runs the probe in this process, as the current user, on a
// fixture, and returns what judge gets for an engine that maps the
// container user to the host user: the fake every judging case starts from.
func localRun(t *testing.T) judgeInput {
	t.Helper()
	root := t.TempDir()
	if err := makeFixture(root); err != nil {
		t.Fatal(err)
	}
	vol := t.TempDir()
	run := func(o ProbeOptions) probeRun {
		var out bytes.Buffer
		if err := Probe(&out, o); err != nil {
			t.Fatal(err)
		}
		var r probeReport
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("probe report %q: %v", out.String(), err)
		}
		for id, serr := range r.Steps {
			if serr != "" && id != CheckHome {
				t.Fatalf("local probe step %s: %s", id, serr)
			}
		}
		// Identity is the container's, not this test process's.
		r.UID, r.GID, r.EUID, r.EGID = 2000, 2000, 2000, 2000
		r.Groups = []int{2000}
		r.VolumeFileUID = 2000
		r.User, r.Logname, r.PasswdName, r.GroupName = "me", "me", "me", "me"
		r.Home, r.PasswdHome, r.Cwd, r.Umask = "/home/me", "/home/me", "/app", 0o022
		r.Steps[CheckHome] = ""
		return probeRun{Report: &r}
	}
	old := setUmask(0o022)
	defer setUmask(old)
	main := run(ProbeOptions{App: filepath.Join(root, appDir), Extra: filepath.Join(root, extraDir), Volume: vol})
	user := run(ProbeOptions{App: filepath.Join(root, imageUserDir), Steps: []string{CheckCreate, CheckNested, CheckChild}})

	// The files are the test process's; an engine that maps right makes them
	// the host user's, 2000:2000 here.
	files := observe(root)
	for p, fi := range files {
		fi.UID, fi.GID = 2000, 2000
		files[p] = fi
	}
	host := idmap.Host{UID: 2000, GID: 2000, Name: "me",
		SubUIDs: []idmap.IDRange{{HostID: 100000, Count: 65536}}, SubGIDs: []idmap.IDRange{{HostID: 100000, Count: 65536}}}
	plan := idmap.Plan{Mode: idmap.DockerRootful, Override: idmap.OverrideAuto, User: "2000:2000", UID: 2000, GID: 2000,
		HostUID: 2000, HostGID: 2000, HostUserUID: 2000, HostUserGID: 2000, UserName: "me", Home: "/home/me"}
	return judgeInput{
		host: host, plan: plan, ns: idmap.Namespace{Mode: idmap.DockerRootful}, mount: "/app",
		main: main, userImageUser: "1000:1000", userPlan: plan, user: user, files: files,
	}
}

// probeWritten are the paths the probe creates (not the fixture's).
func probeWritten(p string) bool {
	for _, f := range fixture {
		if p == appDir+"/"+f.path || strings.HasPrefix(p, appDir+"/"+dDelete) {
			return false
		}
	}
	return p != "." && p != appDir && p != extraDir && p != imageUserDir
}

func TestJudge(t *testing.T) {
	base := localRun(t)
	// Every case changes a copy of base; want lists the checks whose
	// outcome it decides and a text each detail must contain.
	type want struct {
		pass   bool
		detail string
	}
	cases := []struct {
		name   string
		change func(in *judgeInput)
		want   map[string]want
	}{
		{
			name:   "all pass",
			change: func(*judgeInput) {},
		},
		{
			name: "rootless docker run with --user UID:GID",
			change: func(in *judgeInput) {
				in.ns = idmap.Namespace{Mode: idmap.DockerRootless}
				in.plan.Mode = idmap.DockerRootless
				chownWritten(in, 101999, 101999)
			},
			want: map[string]want{
				CheckCreate:        {false, "app/created.txt is owned by 101999 = container uid 2000 under rootless Docker: --user must not be set"},
				CheckNested:        {false, "app/a is owned by 101999"},
				CheckWorldWritable: {false, "owned by 101999 = container uid 2000"},
				CheckSymlink:       {false, "app/symlink is owned by 101999"},
				CheckWalk:          {false, "paths are not yours"},
				CheckImageUser:     {false, "owned by 101999"},
				CheckAppend:        {true, "owned by you"},
			},
		},
		{
			name: "userns-remap daemon without --userns=host",
			change: func(in *judgeInput) {
				in.ns = idmap.Namespace{Mode: idmap.DockerUsernsRemap,
					RemapUIDs: []idmap.IDRange{{HostID: 165536, Count: 65536}}, RemapGIDs: []idmap.IDRange{{HostID: 165536, Count: 65536}}}
				in.plan.Mode = idmap.DockerUsernsRemap
				chownWritten(in, 167536, 167536)
			},
			want: map[string]want{
				CheckCreate: {false, "owned by 167536 = container uid 2000 under Docker with userns-remap: the container ran without --userns=host"},
			},
		},
		{
			name: "permission denied is explained by the probe's host uid",
			change: func(in *judgeInput) {
				in.ns = idmap.Namespace{Mode: idmap.DockerRootless}
				in.plan.Mode = idmap.DockerRootless
				in.main.Report.Steps[CheckChmod] = "chmod /app/host-script.sh: operation not permitted"
			},
			want: map[string]want{
				CheckChmod: {false, "operation not permitted: the probe ran as container uid 2000, whose files would be owned by 101999 = container uid 2000 under rootless Docker"},
			},
		},
		{
			name: "the probe did not run",
			change: func(in *judgeInput) {
				in.main = probeRun{Err: "exit status 127: exec /.hpr/hpr: no such file or directory"}
			},
			want: map[string]want{
				CheckCreate:   {false, "the probe did not run: exit status 127"},
				CheckIdentity: {false, "the probe did not run"},
				CheckWalk:     {true, "owned by you"},
			},
		},
		{
			name: "a container is left",
			change: func(in *judgeInput) {
				in.leftovers = []runtime.Container{{ID: "abc", Name: "hpr-x", State: "exited"}}
			},
			want: map[string]want{CheckNoLeftovers: {false, "1 container(s) left: hpr-x (exited)"}},
		},
		{
			name: "a file changed on the host is seen",
			change: func(in *judgeInput) {
				setFile(in, appDir+"/"+fChmod, func(fi *fileInfo) { fi.Mode = 0o644 })
				setFile(in, appDir+"/"+fAppend, func(fi *fileInfo) { fi.Content = appendHost })
			},
			want: map[string]want{
				CheckChmod:  {false, "mode 0644 on the host, want 0755"},
				CheckAppend: {false, `holds "written by the host\n" on the host`},
			},
		},
		{
			name: "a file the probe deleted is still there",
			change: func(in *judgeInput) {
				in.files[appDir+"/"+fDelete] = fileInfo{UID: 2000, GID: 2000, Mode: 0o644}
			},
			want: map[string]want{CheckDelete: {false, "host-delete.txt is still there"}},
		},
		{
			name: "wrong group",
			change: func(in *judgeInput) {
				setFile(in, appDir+"/"+fCreated, func(fi *fileInfo) { fi.GID = 0 })
			},
			want: map[string]want{
				CheckCreate: {false, "owned by you but by group 0, not your group 2000"},
				CheckWalk:   {false, "1 of"},
			},
		},
		{
			name: "umask takes the owner's write bit",
			change: func(in *judgeInput) {
				in.main.Report.Umask = 0o222
			},
			want: map[string]want{CheckUmask: {false, "umask 0222 takes write permission from the owner"}},
		},
		{
			name: "identity and environment",
			change: func(in *judgeInput) {
				r := in.main.Report
				r.Groups = []int{2000, 0, 65534}
				r.Cwd = "/"
				r.Home = "/"
				r.User = "root"
			},
			want: map[string]want{
				CheckGroups:   {false, "include 0 (root's group"},
				CheckWorkdir:  {false, `the working directory is "/", want the project mount "/app"`},
				CheckHome:     {false, "HOME is / but the passwd entry of me says /home/me"},
				CheckIdentity: {false, `USER="root"`},
			},
		},
		{
			name: "no passwd entry",
			change: func(in *judgeInput) {
				r := in.main.Report
				r.PasswdName, r.PasswdErr = "", "no matching entries in passwd file"
			},
			want: map[string]want{CheckIdentity: {false, "uid 2000 has no passwd entry, so `id -un` and `whoami` fail"}},
		},
		{
			name: "the plan's user is not the one that ran",
			change: func(in *judgeInput) {
				in.plan.UID = 0
			},
			want: map[string]want{CheckIdentity: {false, "the container user is 2000:2000, the plan says 0:2000"}},
		},
		{
			name: "the engine refused the second mount",
			change: func(in *judgeInput) {
				in.extraErr = "invalid mount config"
				delete(in.main.Report.Steps, CheckUnicodeMount)
			},
			want: map[string]want{CheckUnicodeMount: {false, "the engine refused a bind mount"}},
		},
		{
			name: "no volume",
			change: func(in *judgeInput) {
				in.volumeErr = "creating volume hpr-conformance-x: permission denied"
			},
			want: map[string]want{CheckVolume: {false, "creating volume"}},
		},
		{
			name: "the volume's file is not the probe's",
			change: func(in *judgeInput) {
				in.main.Report.VolumeFileUID = 0
			},
			want: map[string]want{CheckVolume: {false, "owned by uid 0 inside, not by the probe's uid 2000"}},
		},
		{
			name: "the USER-image run landed as root",
			change: func(in *judgeInput) {
				for p, fi := range in.files {
					if strings.HasPrefix(p, imageUserDir+"/") {
						fi.UID, fi.GID = 0, 0
						in.files[p] = fi
					}
				}
			},
			want: map[string]want{
				CheckImageUser: {false, "image USER 1000:1000, running as 2000:2000: image-user/a is owned by root = container root under rootful Docker"},
				CheckCreate:    {true, ""},
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := clone(base)
			c.change(&in)
			got := judge(in)
			if len(got) != len(Checks) {
				t.Fatalf("%d checks, want %d", len(got), len(Checks))
			}
			for i, g := range got {
				if g.ID != Checks[i].ID || g.Description != Checks[i].Description {
					t.Errorf("check %d is %q (%q), want %q", i, g.ID, g.Description, Checks[i].ID)
				}
				w, decided := c.want[g.ID]
				if !decided {
					w = want{pass: true}
					if len(c.want) > 0 {
						continue // only the checks the case is about
					}
				}
				if g.Pass != w.pass {
					t.Errorf("%s: pass = %v, want %v (detail %q)", g.ID, g.Pass, w.pass, g.Detail)
				}
				if !strings.Contains(g.Detail, w.detail) {
					t.Errorf("%s: detail %q does not contain %q", g.ID, g.Detail, w.detail)
				}
				if g.Detail == "" {
					t.Errorf("%s: empty detail", g.ID)
				}
			}
		})
	}
}

func clone(in judgeInput) judgeInput {
	out := in
	out.files = maps.Clone(in.files)
	for _, r := range []*probeRun{&out.main, &out.user} {
		if r.Report != nil {
			c := *r.Report
			c.Steps = maps.Clone(r.Report.Steps)
			c.Groups = append([]int(nil), r.Report.Groups...)
			r.Report = &c
		}
	}
	return out
}

func chownWritten(in *judgeInput, uid, gid int) {
	for p, fi := range in.files {
		if probeWritten(p) {
			fi.UID, fi.GID = uid, gid
			in.files[p] = fi
		}
	}
}

func setFile(in *judgeInput, p string, f func(*fileInfo)) {
	fi := in.files[p]
	f(&fi)
	in.files[p] = fi
}

func TestFailedIDs(t *testing.T) {
	got := failedIDs([]Check{{ID: "a", Pass: true}, {ID: "b"}, {ID: "c"}})
	if diff := cmp.Diff([]string{"b", "c"}, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func setUmask(m int) int { return syscall.Umask(m) }
