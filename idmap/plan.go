package idmap

import (
	"fmt"
	"strconv"
	"strings"
)

// Plan says how to run one container on one engine so that what it writes in
// the project mount lands on the host as the host user. NewPlan makes it;
// runtime backends apply it verbatim.
type Plan struct {
	// Mode is the engine mode the plan was made for.
	Mode Mode `json:"mode"`
	// Override is the override the plan honours.
	Override Override `json:"override"`
	// User is the container's User field ("1000:1000", "0:0"). Empty keeps
	// the image's USER.
	User string `json:"user"`
	// Userns is the user-namespace mode: "" (the engine's default), "host"
	// (userns-remap daemons), "keep-id" or "keep-id:uid=N,gid=M" (rootless
	// Podman).
	Userns string `json:"userns"`
	// UID and GID are the ids the container process runs as, inside the
	// container.
	UID int `json:"uid"`
	GID int `json:"gid"`
	// BuildUID and BuildGID are the container-side ids that land on the host
	// as the host user: the UID/GID build args of an image hpr builds.
	BuildUID int `json:"build_uid"`
	BuildGID int `json:"build_gid"`
	// HostUID and HostGID are the host ids that files written by the
	// container process land as. They equal the host user's unless an
	// override says otherwise (then Warnings says so).
	HostUID int `json:"host_uid"`
	HostGID int `json:"host_gid"`
	// HostUserUID and HostUserGID are the host user's ids the plan was made
	// for: what HostUID and HostGID are compared with.
	HostUserUID int `json:"host_user_uid"`
	HostUserGID int `json:"host_user_gid"`
	// UserName is the passwd name of UID inside the container.
	UserName string `json:"user_name"`
	// PasswdLine and GroupLine, when not empty, are appended to the
	// container's /etc/passwd and /etc/group before it starts, because the
	// image has no entry for UID / GID.
	PasswdLine string `json:"passwd_line,omitempty"`
	GroupLine  string `json:"group_line,omitempty"`
	// Home is the HOME of UserName. When CreateHome is set the runtime
	// creates it, owned by UID:GID, before the container starts.
	Home       string `json:"home"`
	CreateHome bool   `json:"create_home,omitempty"`
	// Env holds USER, LOGNAME and HOME for the container's environment.
	Env []string `json:"env,omitempty"`
	// Warnings are things the user should know (an override that will not
	// land files as them, an option the engine's version lacks).
	Warnings []string `json:"warnings,omitempty"`
}

// NewPlan decides how a container of img must run on engine e so that files
// it writes in the project land as host user h, honouring override o.
//
// The plan follows DESIGN's "Engine modes" table. Decisions the table leaves
// open:
//   - The image's USER is resolved in every mode, even where the plan
//     overrides it: an image whose USER names a user its /etc/passwd lacks
//     does not start on its own, so hpr says so rather than hide it.
//   - BuildUID/BuildGID depend on the mode only, not on o: an image is built
//     once and run with any override.
//   - On docker-userns-remap Userns is "host" for every override, so the
//     container's ids are the host's and HostUID is always computable.
//   - On rootless Podman an image USER equal to the host user's uid:gid uses
//     plain "keep-id", which every Podman version has.
//   - With o == OverrideRoot or OverrideImage on a rootless engine, Userns
//     is "" (no keep-id), so container root is the host user.
func NewPlan(h Host, e Engine, img Image, o Override) (Plan, error) {
	if err := h.Validate(); err != nil {
		return Plan{}, err
	}
	mode, err := e.Mode()
	if err != nil {
		return Plan{}, err
	}
	title, err := mode.title()
	if err != nil {
		return Plan{}, err
	}
	if err := o.Validate(); err != nil {
		return Plan{}, err
	}
	iu, err := ResolveImageUser(img)
	if err != nil {
		return Plan{}, err
	}
	if h.UID == 0 && mode.rootless() {
		return Plan{}, fmt.Errorf("host user is root but the engine is %s: a rootless engine belongs to a non-root user, so nothing it writes can land as root; run hpr as the engine's owner, or use the rootful engine", title)
	}
	p := Plan{Mode: mode, Override: o, HostUserUID: h.UID, HostUserGID: h.GID}
	switch mode {
	case DockerRootful, DockerUsernsRemap, PodmanRootful, PodmanRootless:
		p.BuildUID, p.BuildGID = h.UID, h.GID
	case DockerRootless:
		p.BuildUID, p.BuildGID = 0, 0
	default:
		return Plan{}, fmt.Errorf("planning: unknown engine mode %q", mode)
	}
	switch o {
	case OverrideAuto:
		err = p.auto(h, e, iu)
	case OverrideRoot:
		err = p.root(h)
	case OverrideImage:
		err = p.image(h, iu)
	default:
		err = fmt.Errorf("planning: unknown user override %q", o)
	}
	if err != nil {
		return Plan{}, err
	}
	if p.HostUID != h.UID || p.HostGID != h.GID {
		p.Warnings = append(p.Warnings, fmt.Sprintf("user override %q: files written in the project land on the host as %d:%d, not as you (%d:%d); set [run] user = %q to have them owned by you", o, p.HostUID, p.HostGID, h.UID, h.GID, OverrideAuto))
	}
	if err := p.identity(h, img); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// runAs sets the container user to uid:gid.
func (p *Plan) runAs(uid, gid int) {
	p.UID, p.GID = uid, gid
	p.User = strconv.Itoa(uid) + ":" + strconv.Itoa(gid)
}

// auto is the plan of DESIGN's table: files land as the host user.
func (p *Plan) auto(h Host, e Engine, iu ImageUser) error {
	p.HostUID, p.HostGID = h.UID, h.GID
	switch p.Mode {
	case DockerRootful, PodmanRootful:
		p.runAs(h.UID, h.GID)
	case DockerUsernsRemap:
		p.Userns = "host"
		p.runAs(h.UID, h.GID)
	case DockerRootless:
		p.runAs(0, 0)
	case PodmanRootless:
		p.Userns = "keep-id"
		p.runAs(h.UID, h.GID)
		if iu.UID == 0 || (iu.UID == h.UID && iu.GID == h.GID) {
			return nil
		}
		ok, err := versionAtLeast(e.Version, 4, 3)
		if err != nil {
			return fmt.Errorf("planning keep-id for image USER %q: %w", iu.Spec, err)
		}
		if !ok {
			p.Warnings = append(p.Warnings, fmt.Sprintf("Podman %s lacks --userns=keep-id:uid=,gid= (added in 4.3): running as you (%d:%d) instead of the image's USER %q (%d:%d), so files land as you but the image's own user setup is not used; upgrade Podman to 4.3 or later", e.Version, h.UID, h.GID, iu.Spec, iu.UID, iu.GID))
			return nil
		}
		p.Userns = fmt.Sprintf("keep-id:uid=%d,gid=%d", iu.UID, iu.GID)
		p.runAs(iu.UID, iu.GID)
	default:
		return fmt.Errorf("planning: unknown engine mode %q", p.Mode)
	}
	return nil
}

// root runs as container root, wherever that lands.
func (p *Plan) root(h Host) error {
	p.runAs(0, 0)
	switch p.Mode {
	case DockerRootful, PodmanRootful:
		p.HostUID, p.HostGID = 0, 0
	case DockerUsernsRemap:
		p.Userns = "host"
		p.HostUID, p.HostGID = 0, 0
	case DockerRootless, PodmanRootless:
		// No keep-id: under keep-id container root is a subordinate id.
		p.HostUID, p.HostGID = h.UID, h.GID
	default:
		return fmt.Errorf("planning: unknown engine mode %q", p.Mode)
	}
	return nil
}

// image keeps the image's USER and works out where it lands.
func (p *Plan) image(h Host, iu ImageUser) error {
	p.UID, p.GID = iu.UID, iu.GID
	switch p.Mode {
	case DockerRootful, PodmanRootful:
		p.HostUID, p.HostGID = iu.UID, iu.GID
	case DockerUsernsRemap:
		p.Userns = "host"
		p.HostUID, p.HostGID = iu.UID, iu.GID
	case DockerRootless, PodmanRootless:
		var uok, gok bool
		p.HostUID, uok = RootlessMapping(h.UID, h.SubUIDs).ToHost(iu.UID)
		p.HostGID, gok = RootlessMapping(h.GID, h.SubGIDs).ToHost(iu.GID)
		if !uok || !gok {
			return fmt.Errorf("image USER %q (%d:%d) has no host id under %s: your subordinate ranges (subuid %s, subgid %s) do not cover it; add ranges (see subuid(5) and usermod(8)) or set [run] user = %q", iu.Spec, iu.UID, iu.GID, p.Mode, formatRanges(h.SubUIDs), formatRanges(h.SubGIDs), OverrideAuto)
		}
	default:
		return fmt.Errorf("planning: unknown engine mode %q", p.Mode)
	}
	return nil
}

func formatRanges(rs []IDRange) string {
	if len(rs) == 0 {
		return "none"
	}
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = fmt.Sprintf("%d:%d", r.HostID, r.Count)
	}
	return strings.Join(s, ",")
}

// identity gives UID a name, a HOME and, when the image lacks them, passwd
// and group entries. A passwd entry whose home is "", "/" or "/nonexistent"
// gets /home/NAME (or /root) created instead, because HOME must be writable.
// A new user is named after the host user when it lands as the host user and
// the image does not use that name already, else "hpr" (or "hprUID").
func (p *Plan) identity(h Host, img Image) error {
	u, ok, err := passwdEntry(img.Passwd, p.UID)
	if err != nil {
		return err
	}
	switch {
	case ok:
		p.UserName, p.Home = u.Name, u.Home
		if u.Home == "" || u.Home == "/" || u.Home == "/nonexistent" {
			p.Home, p.CreateHome = homeOf(u.Name, p.UID), true
		}
	case p.UID == 0:
		p.UserName, p.Home, p.CreateHome = "root", "/root", true
		p.PasswdLine = fmt.Sprintf("root:x:0:%d:root:/root:/bin/sh", p.GID)
	default:
		cands := []string{"hpr", "hpr" + strconv.Itoa(p.UID)}
		if p.HostUID == h.UID && validName(h.Name) {
			cands = append([]string{h.Name}, cands...)
		}
		name, err := firstFree(cands, func(n string) (bool, error) { return passwdHasName(img.Passwd, n) })
		if err != nil {
			return err
		}
		p.UserName, p.Home, p.CreateHome = name, homeOf(name, p.UID), true
		p.PasswdLine = fmt.Sprintf("%s:x:%d:%d:hpr:%s:/bin/sh", name, p.UID, p.GID, p.Home)
	}
	_, ok, err = groupEntry(img.Group, p.GID)
	if err != nil {
		return err
	}
	if !ok {
		cands := []string{p.UserName, "hpr", "hpr" + strconv.Itoa(p.GID)}
		if p.GID == 0 {
			cands = []string{"root"}
		}
		name, err := firstFree(cands, func(n string) (bool, error) { return groupHasName(img.Group, n) })
		if err != nil {
			return err
		}
		p.GroupLine = fmt.Sprintf("%s:x:%d:", name, p.GID)
	}
	p.Env = []string{"USER=" + p.UserName, "LOGNAME=" + p.UserName, "HOME=" + p.Home}
	return nil
}

func homeOf(name string, uid int) string {
	if uid == 0 {
		return "/root"
	}
	return "/home/" + name
}

// validName reports whether name can be written into a passwd line.
func validName(name string) bool {
	return name != "" && !strings.ContainsAny(name, ":/\n\t ") && name[0] != '-'
}

// firstFree returns the first candidate taken reports false for, or the last
// one when all are taken (the last is id-specific, so a clash there is the
// image's own oddity and harmless to the kernel, which only sees ids).
func firstFree(cands []string, taken func(string) (bool, error)) (string, error) {
	for _, c := range cands {
		t, err := taken(c)
		if err != nil {
			return "", err
		}
		if !t {
			return c, nil
		}
	}
	return cands[len(cands)-1], nil
}
