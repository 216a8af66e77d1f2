package doctor

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/hostpersist/hpr/idmap"
)

// Fixer is an engine that could run the fixing container.
type Fixer struct {
	// Name identifies the engine to the caller (its mode and endpoint).
	Name string
	// NS is the namespace a root container runs in there (RootNamespace).
	NS idmap.Namespace
}

// RootNamespace is the user namespace of a container running as root on an
// engine with facts e: the namespace of hpr's plan with the root override
// (the host's ids on rootful engines, and with --userns=host on a
// userns-remap daemon; the user's own namespace, without keep-id, on
// rootless ones, where container root is the host user).
func RootNamespace(h idmap.Host, e idmap.Engine) (idmap.Namespace, error) {
	p, err := idmap.NewPlan(h, e, idmap.Image{}, idmap.OverrideRoot)
	if err != nil {
		return idmap.Namespace{}, err
	}
	return idmap.Namespace{Mode: p.Mode, Userns: p.Userns}, nil
}

// Target returns the container uid and gid that land on the host as the
// host user in ns: what the fixing container gives each file.
func Target(ns idmap.Namespace, h idmap.Host) (uid, gid int, err error) {
	uids, gids, err := ns.Mappings(h)
	if err != nil {
		return 0, 0, err
	}
	uid, uok := uids.ToContainer(h.UID)
	gid, gok := gids.ToContainer(h.GID)
	if !uok || !gok {
		return 0, 0, fmt.Errorf("no container id lands as you (%d:%d) under %s", h.UID, h.GID, ns.Mode)
	}
	return uid, gid, nil
}

// CanFix reports whether root in ns can hand a file owned by o to the host
// user. In a user namespace CAP_CHOWN covers only files whose uid and gid
// the namespace maps, so a rootless engine can fix the subordinate ids of
// its own user and nothing else; a rootful engine can fix anything.
func CanFix(ns idmap.Namespace, o Owner, h idmap.Host) (bool, error) {
	uids, gids, err := ns.Mappings(h)
	if err != nil {
		return false, err
	}
	_, uok := uids.ToContainer(o.UID)
	_, gok := gids.ToContainer(o.GID)
	if !uok || !gok {
		return false, nil
	}
	_, _, err = Target(ns, h)
	return err == nil, nil
}

// Assignment is one fixing container: the fixer (an index into the
// fixers given to Assign) and the groups it hands back.
type Assignment struct {
	Fixer  int
	Groups []int
}

// rank orders fixers when several would do: the least privileged first (a
// rootless engine acts only within the user's own ranges), then rootful
// Docker, rootful Podman, and a userns-remap daemon's --userns=host.
func rank(m idmap.Mode) int {
	switch m {
	case idmap.DockerRootless:
		return 0
	case idmap.PodmanRootless:
		return 1
	case idmap.DockerRootful:
		return 2
	case idmap.PodmanRootful:
		return 3
	case idmap.DockerUsernsRemap:
		return 4
	default:
		return 5
	}
}

// Assign decides which fixer hands back which groups. One fixer that can fix
// every fixable group is preferred (one container), the least privileged
// such; otherwise fixers are taken greedily, the one fixing most of what is
// left first. unfixable lists the groups no fixer can fix, and groups with
// no fixable file (all hard-linked outside the project).
func Assign(groups []Group, fixers []Fixer, h idmap.Host) (plan []Assignment, unfixable []int, err error) {
	cover := make([][]bool, len(fixers))
	needed := make([]bool, len(groups))
	for i, f := range fixers {
		cover[i] = make([]bool, len(groups))
		for j, g := range groups {
			if len(g.Fixable()) == 0 {
				continue
			}
			ok, err := CanFix(f.NS, g.Owner, h)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", f.Name, err)
			}
			cover[i][j] = ok
			needed[j] = needed[j] || ok
		}
	}
	for j := range groups {
		if !needed[j] {
			unfixable = append(unfixable, j)
		}
	}
	order := make([]int, len(fixers))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return rank(fixers[a].NS.Mode) - rank(fixers[b].NS.Mode) })
	covers := func(i int) int {
		n := 0
		for j, ok := range cover[i] {
			if ok && needed[j] {
				n++
			}
		}
		return n
	}
	for {
		best, bestN := -1, 0
		for _, i := range order {
			if n := covers(i); n > bestN {
				best, bestN = i, n
			}
		}
		if best < 0 {
			break
		}
		a := Assignment{Fixer: best}
		for j, ok := range cover[best] {
			if ok && needed[j] {
				a.Groups = append(a.Groups, j)
				needed[j] = false
			}
		}
		plan = append(plan, a)
	}
	return plan, unfixable, nil
}

// Unfixable says why no engine could hand g back, and what to do instead.
// root is the host directory the group's paths are relative to.
func Unfixable(g Group, root string, h idmap.Host) string {
	if len(g.Fixable()) == 0 {
		return fmt.Sprintf("%s owned by %s %s hard links outside the project, so hpr leaves %s alone (changing the owner would change every link's): check where they lead, then run `%s`",
			count(len(g.Files), "path"), g.Owner, plural(len(g.Files), "has", "have"), plural(len(g.Files), "it", "them"), sudoChown(g.Files, root, h))
	}
	sudo := sudoChown(g.Fixable(), root, h)
	switch {
	case g.UID == 0 || g.GID == 0:
		return fmt.Sprintf("files owned by root (%s) and no rootful engine you can use: run `%s`, or use a rootful engine you have access to (`hpr engines` lists what answers)", g.Owner, sudo)
	case inRanges(g.UID, h.SubUIDs) && inRanges(g.GID, h.SubGIDs):
		return fmt.Sprintf("files owned by your subordinate ids (%s) and no engine you can use maps them: start rootless Docker or Podman and run `hpr doctor --fix` again, or run `%s`", g.Owner, sudo)
	default:
		return fmt.Sprintf("files owned by %s, which only a rootful engine can change, and none you can use answered: run `%s`", g.Owner, sudo)
	}
}

func inRanges(id int, rs []idmap.IDRange) bool {
	for _, r := range rs {
		if int64(id) >= r.HostID && int64(id) < r.HostID+r.Count {
			return true
		}
	}
	return false
}

// maxSudoPaths is how many paths a suggested sudo chown names before it
// names the project root instead.
const maxSudoPaths = 5

// sudoChown is the command that hands files back by hand: chown -R of the
// topmost paths (those not inside another one listed), or of root when
// there are many.
func sudoChown(files []File, root string, h idmap.Host) string {
	var tops []string
	for _, f := range files {
		covered := false
		for _, t := range tops {
			if t == "." || f.Path == t || strings.HasPrefix(f.Path, t+"/") {
				covered = true
				break
			}
		}
		if !covered {
			tops = append(tops, f.Path)
		}
	}
	args := []string{shellQuote(root)}
	if len(tops) <= maxSudoPaths {
		args = args[:0]
		for _, t := range tops {
			args = append(args, shellQuote(path.Join(root, t)))
		}
	}
	return fmt.Sprintf("sudo chown -R -h %d:%d -- %s", h.UID, h.GID, strings.Join(args, " "))
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+=:,@%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// count is "1 path", "3 paths".
func count(n int, noun string) string {
	return fmt.Sprintf("%d %s", n, plural(n, noun, noun+"s"))
}
