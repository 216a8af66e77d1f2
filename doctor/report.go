package doctor

import (
	"fmt"
	"io"
	"strings"

	"github.com/hostpersist/hpr/idmap"
)

// Examples is how many paths of each owner the report names.
const Examples = 3

// Report is what `hpr doctor` says about one scan.
type Report struct {
	// Root is the project directory as the user knows it.
	Root string
	Host idmap.Host
	Scan *Scan
	// Groups are Scan's files by owner, and Origins each group's
	// explanations (Origins).
	Groups  []Group
	Origins [][]idmap.Owner
	// Unexplained, when not empty, says why owners are not explained (no
	// engine answered).
	Unexplained string
	// Names are the host's passwd names of owners' uids, where known.
	Names map[int]string
}

// you is the host user as reports name them: "hprtest, uid 2000".
func you(h idmap.Host) string {
	if h.Name != "" {
		return fmt.Sprintf("%s, uid %d", h.Name, h.UID)
	}
	return fmt.Sprintf("uid %d", h.UID)
}

// WriteText prints the report: a summary line, then each owner with a few
// example paths and its explanations, then the problems.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	if len(r.Scan.Files) == 0 {
		all := fmt.Sprintf("All %d paths under %s are", r.Scan.Seen, r.Root)
		if r.Scan.Seen == 1 {
			all = fmt.Sprintf("The only path under %s is", r.Root)
		}
		fmt.Fprintf(&b, "%s owned by you (%s).\n", all, you(r.Host))
	} else {
		fmt.Fprintf(&b, "%s of %d under %s %s not owned by you (%s):\n", count(len(r.Scan.Files), "path"), r.Scan.Seen, r.Root, plural(len(r.Scan.Files), "is", "are"), you(r.Host))
		for i, g := range r.Groups {
			owner := g.Owner.String()
			if n := r.Names[g.UID]; n != "" {
				owner += " (" + n + ")"
			}
			ex := g.Examples(Examples)
			more := ""
			if n := len(g.Files) - len(ex); n > 0 {
				more = fmt.Sprintf(" and %d more", n)
			}
			fmt.Fprintf(&b, "\n  %s: %s: %s%s\n", owner, count(len(g.Files), "path"), strings.Join(ex, ", "), more)
			switch {
			case i < len(r.Origins) && len(r.Origins[i]) > 0:
				for _, o := range r.Origins[i] {
					fmt.Fprintf(&b, "    - %s\n", o.Text)
				}
			case r.Unexplained != "":
				fmt.Fprintf(&b, "    - %s\n", r.Unexplained)
			case g.UID == 0:
				fmt.Fprintf(&b, "    - owned by root: left by a container running as root on a rootful engine, or by sudo; none of the engines used here runs containers as host root\n")
			default:
				fmt.Fprintf(&b, "    - no engine here maps %s to a container id: not written by a container of an engine that answers (another user, a tool run with sudo, or changed subuid ranges)\n", g.Owner)
			}
		}
	}
	if len(r.Scan.Problems) > 0 {
		fmt.Fprintf(&b, "\nNot inspected:\n")
		for _, p := range r.Scan.Problems {
			fmt.Fprintf(&b, "  %s\n", p)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
