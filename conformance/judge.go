package conformance

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// Check ids, in report order.
const (
	CheckCreate        = "create"
	CheckNested        = "nested"
	CheckAppend        = "append"
	CheckReadPrivate   = "read-private"
	CheckDelete        = "delete"
	CheckRename        = "rename"
	CheckSymlink       = "symlink"
	CheckHardlink      = "hardlink"
	CheckChmod         = "chmod"
	CheckUtimes        = "utimes"
	CheckChild         = "child-process"
	CheckWorldWritable = "world-writable"
	CheckUnicodeMount  = "unicode-mount"
	CheckUmask         = "umask"
	CheckIdentity      = "identity"
	CheckHome          = "home"
	CheckGroups        = "groups"
	CheckTmp           = "tmp"
	CheckWorkdir       = "workdir"
	CheckVolume        = "volume"
	CheckImageUser     = "image-user"
	CheckWalk          = "walk"
	CheckNoLeftovers   = "no-leftovers"
)

// CheckInfo names one check.
type CheckInfo struct {
	ID          string
	Description string
}

// Checks lists every check Run makes, in report order.
var Checks = []CheckInfo{
	{CheckCreate, "a file created in the project is owned by you"},
	{CheckNested, "mkdir -p a/b/c and a file inside: every level is owned by you"},
	{CheckAppend, "appending to a file you created works and keeps it yours"},
	{CheckReadPrivate, "a file of yours with mode 0600 is readable"},
	{CheckDelete, "a file and a directory tree of yours can be deleted"},
	{CheckRename, "your file and the container's file can be renamed; the results are yours"},
	{CheckSymlink, "a symlink created in the project is itself owned by you"},
	{CheckHardlink, "a hard link to a file of yours can be made"},
	{CheckChmod, "chmod +x on a file of yours is seen from the host"},
	{CheckUtimes, "setting the mtime of a file of yours (touch -d) is seen from the host"},
	{CheckChild, "a file written by a child process is owned by you"},
	{CheckWorldWritable, "a file written in a chmod-777 directory is owned by you, not a stranger"},
	{CheckUnicodeMount, "files in a mount whose host path has spaces and non-ASCII characters are owned by you"},
	{CheckUmask, "the umask leaves new files writable by you and modes are as the umask says"},
	{CheckIdentity, "the container user is the plan's uid:gid with a passwd name; USER and LOGNAME match it"},
	{CheckHome, "HOME is the passwd home, exists and is writable"},
	{CheckGroups, "supplementary groups are mapped and grant no root group"},
	{CheckTmp, "/tmp is writable"},
	{CheckWorkdir, "the working directory is the project mount"},
	{CheckVolume, "a named volume hpr creates is writable by the container user"},
	{CheckImageUser, "an image whose USER is another uid still writes files owned by you"},
	{CheckWalk, "nothing under the test directory is owned by anyone but you"},
	{CheckNoLeftovers, "no container of the run is left on the engine"},
}

func description(id string) string {
	for _, c := range Checks {
		if c.ID == id {
			return c.Description
		}
	}
	return ""
}

// probeRun is one run of the probe as the host saw it.
type probeRun struct {
	// Report is nil when the probe did not report; Err says why.
	Report *probeReport
	Err    string
}

// judgeInput is everything the checks are judged on. judge is pure: Run
// gathers the input, unit tests fake it.
type judgeInput struct {
	host idmap.Host
	plan idmap.Plan
	ns   idmap.Namespace
	// mount is the project mount point the probe's working directory must be.
	mount string
	main  probeRun
	// extraErr is why the engine refused the second mount, when it did.
	extraErr string
	// userImageUser is the USER of the image of the USER-image run; userPlan
	// its plan.
	userImageUser string
	userPlan      idmap.Plan
	user          probeRun
	// files is what the host saw under the test directory after the runs,
	// by path relative to it.
	files map[string]fileInfo
	// leftovers are the run's containers still on the engine; listErr is
	// why they could not be listed.
	leftovers []runtime.Container
	listErr   string
	// volumeErr is why the volume could not be made.
	volumeErr string
	// volumeNote is appended to the volume check's detail.
	volumeNote string
	// cleanupNote is appended to the walk check's detail.
	cleanupNote string
}

// judge judges every check.
func judge(in judgeInput) []Check {
	j := judger{in}
	out := make([]Check, 0, len(Checks))
	for _, c := range Checks {
		ok, detail := j.check(c.ID)
		out = append(out, Check{ID: c.ID, Description: c.Description, Pass: ok, Detail: detail})
	}
	return out
}

type judger struct{ judgeInput }

func (j judger) check(id string) (bool, string) {
	switch id {
	case CheckImageUser:
		return j.imageUser()
	case CheckWalk:
		return j.walk()
	case CheckNoLeftovers:
		return j.noLeftovers()
	case CheckVolume:
		if j.volumeErr != "" {
			return false, j.volumeErr
		}
	case CheckUnicodeMount:
		if j.extraErr != "" {
			return false, "the engine refused a bind mount of a host path with spaces and non-ASCII characters (" + extraDir + "): " + j.extraErr
		}
	}
	r := j.main.Report
	if r == nil {
		return false, "the probe did not run: " + j.main.Err
	}
	if serr, ran := r.Steps[id]; ran && serr != "" {
		return false, j.stepFailed(r, serr)
	}
	if ok, detail, known := j.fileCheck(id); known {
		return ok, detail
	}
	return j.userCheck(id, r)
}

// app is p in the test directory's project mount.
func app(p string) string { return path.Join(appDir, p) }

// fileCheck judges the checks of what the probe did to files, from what
// the host sees; known is false for other checks.
func (j judger) fileCheck(id string) (ok bool, detail string, known bool) {
	switch id {
	case CheckCreate:
		if ok, d := j.content(app(fCreated), createdText); !ok {
			return false, d, true
		}
		ok, detail = j.owned(app(fCreated))
	case CheckNested:
		ok, detail = j.owned(app("a"), app("a/b"), app("a/b/c"), app(fNested))
	case CheckAppend:
		if ok, d := j.content(app(fAppend), appendHost+appendProbe); !ok {
			return false, d, true
		}
		ok, detail = j.owned(app(fAppend))
	case CheckDelete:
		ok, detail = j.gone("deleted", app(fDelete), app(dDelete))
		if ok {
			detail = "deleted " + fDelete + " and " + dDelete + "/"
		}
	case CheckRename:
		if ok, detail = j.gone("renamed", app(fRenameHost), app(fRenameProbe)); ok {
			ok, detail = j.owned(app(fRenamedHost), app(fRenamedProbe))
		}
	case CheckSymlink:
		ok, detail = j.symlink()
	case CheckHardlink:
		ok, detail = j.hardlink()
	case CheckChmod:
		ok, detail = j.chmod()
	case CheckUtimes:
		ok, detail = j.utimes()
	case CheckChild:
		ok, detail = j.owned(app(fChild))
	case CheckWorldWritable:
		ok, detail = j.owned(app(fWorld))
	case CheckUnicodeMount:
		ok, detail = j.owned(path.Join(extraDir, fExtra), path.Join(extraDir, "dïr ü"), path.Join(extraDir, fExtraNested))
	default:
		return false, "", false
	}
	return ok, detail, true
}

// gone checks that the probe removed paths (by deleting or renaming them).
func (j judger) gone(how string, paths ...string) (bool, string) {
	for _, p := range paths {
		if _, there := j.files[p]; there {
			return false, p + " is still there after the probe " + how + " it"
		}
	}
	return true, ""
}

func (j judger) symlink() (bool, string) {
	fi, ok := j.files[app(fSymlink)]
	if !ok {
		return false, app(fSymlink) + " is missing"
	}
	if fi.Mode&fs.ModeSymlink == 0 || fi.Link != symlinkValue {
		return false, fmt.Sprintf("%s is %v -> %q, want a symlink to %q", app(fSymlink), fi.Mode, fi.Link, symlinkValue)
	}
	return j.owned(app(fSymlink))
}

func (j judger) hardlink() (bool, string) {
	fi, ok := j.files[app(fHardlink)]
	target := j.files[app(fLinkTarget)]
	switch {
	case !ok:
		return false, app(fHardlink) + " is missing"
	case fi.Ino != target.Ino || fi.Nlink < 2:
		return false, fmt.Sprintf("%s is inode %d with %d links, %s is inode %d: not a hard link", fHardlink, fi.Ino, fi.Nlink, fLinkTarget, target.Ino)
	}
	return true, fmt.Sprintf("%s and %s are inode %d, %d links", fHardlink, fLinkTarget, fi.Ino, fi.Nlink)
}

func (j judger) chmod() (bool, string) {
	fi := j.files[app(fChmod)]
	if fi.Mode.Perm() != 0o755 {
		return false, fmt.Sprintf("%s has mode %04o on the host, want 0755", fChmod, fi.Mode.Perm())
	}
	return true, fmt.Sprintf("%s has mode 0755 on the host", fChmod)
}

func (j judger) utimes() (bool, string) {
	fi := j.files[app(fTimes)]
	const layout = "2006-01-02T15:04:05Z"
	if !fi.ModTime.Equal(fixedTime) {
		return false, fmt.Sprintf("%s has mtime %s on the host, want %s", fTimes, fi.ModTime.UTC().Format(layout), fixedTime.Format(layout))
	}
	return true, fmt.Sprintf("%s has mtime %s on the host", fTimes, fixedTime.Format(layout))
}

// userCheck judges the checks of who the probe was, from its report.
func (j judger) userCheck(id string, r *probeReport) (bool, string) {
	switch id {
	case CheckReadPrivate:
		if r.Private != privateText {
			return false, fmt.Sprintf("read %q from %s, want %q", r.Private, fPrivate, privateText)
		}
		return true, fmt.Sprintf("read %s (mode 0600) as uid %d", fPrivate, r.UID)
	case CheckUmask:
		return j.umask(r)
	case CheckIdentity:
		return j.identity(r)
	case CheckHome:
		if r.PasswdName != "" && r.Home != r.PasswdHome {
			return false, fmt.Sprintf("HOME is %s but the passwd entry of %s says %s: tools that use getpwuid (ssh, some git setups) look elsewhere", r.Home, r.PasswdName, r.PasswdHome)
		}
		return true, fmt.Sprintf("HOME %s exists and is writable", r.Home)
	case CheckGroups:
		return groups(r)
	case CheckTmp:
		return true, "created and removed a file in /tmp"
	case CheckWorkdir:
		if r.Cwd != j.mount {
			return false, fmt.Sprintf("the working directory is %q, want the project mount %q", r.Cwd, j.mount)
		}
		return true, "working directory " + r.Cwd
	case CheckVolume:
		return j.volume(r)
	default:
		return false, fmt.Sprintf("unknown check %q", id)
	}
}

func groups(r *probeReport) (bool, string) {
	var bad []string
	for _, g := range r.Groups {
		switch {
		case g == 0 && r.GID != 0:
			bad = append(bad, "0 (root's group: access to root-group files)")
		case g == overflowID && r.GID != overflowID:
			bad = append(bad, fmt.Sprintf("%d (the overflow id: a host group the container cannot map)", overflowID))
		}
	}
	if len(bad) > 0 {
		return false, fmt.Sprintf("groups %v include %s", r.Groups, strings.Join(bad, ", "))
	}
	return true, fmt.Sprintf("gid %d, groups %v", r.GID, r.Groups)
}

func (j judger) volume(r *probeReport) (bool, string) {
	if r.VolumeFileUID != r.UID {
		return false, fmt.Sprintf("the file the probe wrote in the volume is owned by uid %d inside, not by the probe's uid %d", r.VolumeFileUID, r.UID)
	}
	d := fmt.Sprintf("wrote a file and a directory in the volume, whose root is %d:%d mode %s inside", r.VolumeUID, r.VolumeGID, r.VolumeMode)
	if j.volumeNote != "" {
		d += "; " + j.volumeNote
	}
	return true, d
}

// overflowID is the kernel's overflow uid and gid: what an id that the
// user namespace does not map shows as.
const overflowID = 65534

func (j judger) umask(r *probeReport) (bool, string) {
	if r.Umask < 0 {
		return false, "the probe could not read its umask from /proc/self/status"
	}
	m := fs.FileMode(r.Umask)
	if m&0o200 != 0 {
		return false, fmt.Sprintf("umask %04o takes write permission from the owner: new files are read-only for you", r.Umask)
	}
	wantFile, wantDir := 0o666&^m, 0o777&^m
	f, fok := j.files[path.Join(appDir, fCreated)]
	d, dok := j.files[path.Join(appDir, "a")]
	if !fok || !dok {
		return false, fmt.Sprintf("umask %04o, but the probe's file and directory are missing on the host, so their modes cannot be checked", r.Umask)
	}
	if f.Mode.Perm() != wantFile {
		return false, fmt.Sprintf("%s has mode %04o on the host, want %04o (umask %04o)", fCreated, f.Mode.Perm(), wantFile, r.Umask)
	}
	if d.Mode.Perm() != wantDir {
		return false, fmt.Sprintf("directory a has mode %04o on the host, want %04o (umask %04o)", d.Mode.Perm(), wantDir, r.Umask)
	}
	return true, fmt.Sprintf("umask %04o: new files %04o, directories %04o", r.Umask, wantFile, wantDir)
}

func (j judger) identity(r *probeReport) (bool, string) {
	switch {
	case r.UID != j.plan.UID || r.GID != j.plan.GID:
		return false, fmt.Sprintf("the container user is %d:%d, the plan says %d:%d", r.UID, r.GID, j.plan.UID, j.plan.GID)
	case r.EUID != r.UID || r.EGID != r.GID:
		return false, fmt.Sprintf("effective ids %d:%d differ from real ids %d:%d", r.EUID, r.EGID, r.UID, r.GID)
	case r.PasswdName == "":
		return false, fmt.Sprintf("uid %d has no passwd entry, so `id -un` and `whoami` fail (%s)", r.UID, r.PasswdErr)
	case j.plan.UserName != "" && r.PasswdName != j.plan.UserName:
		return false, fmt.Sprintf("uid %d is %q in /etc/passwd, the plan says %q", r.UID, r.PasswdName, j.plan.UserName)
	case r.User != r.PasswdName || r.Logname != r.PasswdName:
		return false, fmt.Sprintf("USER=%q and LOGNAME=%q, but uid %d is %q", r.User, r.Logname, r.UID, r.PasswdName)
	}
	group := ""
	if r.GroupName != "" {
		group = " (" + r.GroupName + ")"
	}
	return true, fmt.Sprintf("uid %d (%s), gid %d%s; USER and LOGNAME are %s", r.UID, r.PasswdName, r.GID, group, r.PasswdName)
}

func (j judger) imageUser() (bool, string) {
	r := j.user.Report
	if r == nil {
		return false, fmt.Sprintf("the probe in an image with USER %s did not run: %s", j.userImageUser, j.user.Err)
	}
	for _, id := range []string{CheckCreate, CheckNested, CheckChild} {
		if serr := r.Steps[id]; serr != "" {
			return false, fmt.Sprintf("image USER %s: %s", j.userImageUser, j.stepFailedWith(r, serr, j.userPlan))
		}
	}
	paths := j.under(imageUserDir)
	if len(paths) == 0 {
		return false, fmt.Sprintf("image USER %s: the probe wrote nothing into %s", j.userImageUser, imageUserDir)
	}
	ok, d := j.owned(paths...)
	how := "running as " + j.userPlan.User
	if j.userPlan.User == "" {
		how = "keeping the image's USER"
	}
	if j.userPlan.Userns != "" {
		how += " with --userns=" + j.userPlan.Userns
	}
	return ok, fmt.Sprintf("image USER %s, %s: %s", j.userImageUser, how, d)
}

// under returns the paths strictly below dir, sorted.
func (j judger) under(dir string) []string {
	var out []string
	for p := range j.files {
		if strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func (j judger) walk() (bool, string) {
	var paths []string
	for p := range j.files {
		if p != "." {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	var bad []string
	for _, p := range paths {
		if ok, d := j.owned(p); !ok {
			bad = append(bad, d)
		}
	}
	note := ""
	if j.cleanupNote != "" {
		note = "; " + j.cleanupNote
	}
	if len(bad) == 0 {
		return true, fmt.Sprintf("all %d paths are owned by you (%d:%d)%s", len(paths), j.host.UID, j.host.GID, note)
	}
	const show = 3
	n, more := len(bad), ""
	if n > show {
		more = fmt.Sprintf("; and %d more", n-show)
		bad = bad[:show]
	}
	return false, fmt.Sprintf("%d of %d paths are not yours: %s%s%s", n, len(paths), strings.Join(bad, "; "), more, note)
}

func (j judger) noLeftovers() (bool, string) {
	if j.listErr != "" {
		return false, "listing the run's containers: " + j.listErr
	}
	if len(j.leftovers) > 0 {
		var names []string
		for _, c := range j.leftovers {
			n := c.Name
			if n == "" {
				n = c.ID
			}
			names = append(names, fmt.Sprintf("%s (%s)", n, c.State))
		}
		return false, fmt.Sprintf("%d container(s) left: %s", len(names), strings.Join(names, ", "))
	}
	return true, "no container carries the run's labels"
}

// content checks a file's content as the host sees it.
func (j judger) content(p, want string) (bool, string) {
	fi, ok := j.files[p]
	switch {
	case !ok:
		return false, p + " is missing on the host"
	case fi.Err != "":
		return false, "cannot see " + p + ": " + fi.Err
	case !fi.Mode.IsRegular():
		return false, fmt.Sprintf("%s is %v, not a regular file", p, fi.Mode)
	case fi.Content != want:
		return false, fmt.Sprintf("%s holds %q on the host, want %q", p, fi.Content, want)
	}
	return true, ""
}

// owned reports whether every path is owned by the host user, explaining
// the first that is not.
func (j judger) owned(paths ...string) (bool, string) {
	for _, p := range paths {
		fi, ok := j.files[p]
		switch {
		case !ok:
			return false, p + " is missing on the host"
		case fi.Err != "":
			return false, "cannot see " + p + ": " + fi.Err
		case fi.UID != j.host.UID || fi.GID != j.host.GID:
			return false, p + " " + j.explainOwner(fi.UID, fi.GID)
		}
	}
	what := strings.Join(paths, ", ") + " are"
	switch {
	case len(paths) == 1:
		what = paths[0] + " is"
	case len(paths) > 4:
		what = fmt.Sprintf("all %d paths are", len(paths))
	}
	return true, fmt.Sprintf("%s owned by you (%d:%d)", what, j.host.UID, j.host.GID)
}

// explainOwner says which container ids produced an owner that is not the
// host user's, and what to change.
func (j judger) explainOwner(uid, gid int) string {
	if uid == j.host.UID {
		return fmt.Sprintf("is owned by you but by group %d, not your group %d", gid, j.host.GID)
	}
	o, err := idmap.Reverse(uid, gid, j.ns, j.host)
	if err != nil {
		return fmt.Sprintf("is owned by %d:%d, not you (%d:%d)", uid, gid, j.host.UID, j.host.GID)
	}
	return fmt.Sprintf("is %s (group %d)", o.Text, gid)
}

// stepFailed explains a failed step of the main run.
func (j judger) stepFailed(r *probeReport, serr string) string {
	return j.stepFailedWith(r, serr, j.plan)
}

// stepFailedWith explains a failed step: when the kernel said no, it says
// which host uid the probe's uid is under the namespace p ran in.
func (j judger) stepFailedWith(r *probeReport, serr string, p idmap.Plan) string {
	lower := strings.ToLower(serr)
	if !strings.Contains(lower, "permission denied") && !strings.Contains(lower, "operation not permitted") {
		return serr
	}
	ns := j.ns
	ns.Mode, ns.Userns = p.Mode, p.Userns
	uids, gids, err := ns.Mappings(j.host)
	if err != nil {
		return serr
	}
	hu, uok := uids.ToHost(r.UID)
	hg, gok := gids.ToHost(r.GID)
	switch {
	case !uok:
		return fmt.Sprintf("%s: the probe ran as container uid %d, which is no host uid under this engine's mapping", serr, r.UID)
	case hu == j.host.UID:
		return fmt.Sprintf("%s (the probe ran as container uid %d, which is you)", serr, r.UID)
	}
	if !gok {
		hg = overflowID
	}
	o, err := idmap.Reverse(hu, hg, ns, j.host)
	if err != nil {
		return fmt.Sprintf("%s: the probe ran as container uid %d = host uid %d, not you (%d)", serr, r.UID, hu, j.host.UID)
	}
	return fmt.Sprintf("%s: the probe ran as container uid %d, whose files would be %s", serr, r.UID, o.Text)
}

// failedIDs returns the ids of the checks that failed.
func failedIDs(cs []Check) []string {
	var out []string
	for _, c := range cs {
		if !c.Pass {
			out = append(out, c.ID)
		}
	}
	return slices.Clip(out)
}
