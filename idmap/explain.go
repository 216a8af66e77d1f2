package idmap

import (
	"fmt"
	"strings"
)

// Explain says in one paragraph how p runs the container and where its files
// land, e.g. "rootless Docker: container root is you; running as 0:0 so files
// in the project are owned by you (uid 1000)."
func (p Plan) Explain() string {
	title, err := p.Mode.title()
	if err != nil {
		return "invalid plan: " + err.Error()
	}
	var b strings.Builder
	b.WriteString(title + ": ")
	switch {
	case p.Userns == "host":
		b.WriteString("--userns=host turns remapping off for this container; ")
	case strings.HasPrefix(p.Userns, "keep-id"):
		fmt.Fprintf(&b, "--userns=%s maps you to container uid %d; ", p.Userns, p.UID)
	case p.Mode.rootless():
		b.WriteString("container root is you; ")
	}
	if p.Override != OverrideAuto {
		fmt.Fprintf(&b, "user override %q: ", p.Override)
	}
	if p.User == "" {
		fmt.Fprintf(&b, "keeping the image's USER (%d:%d)", p.UID, p.GID)
	} else {
		b.WriteString("running as " + p.User)
	}
	if p.HostUID == p.HostUserUID {
		fmt.Fprintf(&b, " so files in the project are owned by you (uid %d).", p.HostUserUID)
	} else {
		fmt.Fprintf(&b, " so files in the project land on the host as %d:%d, not as you (uid %d).", p.HostUID, p.HostGID, p.HostUserUID)
	}
	fmt.Fprintf(&b, " Inside, the user is %s with HOME %s", p.UserName, p.Home)
	var adds []string
	if p.PasswdLine != "" {
		adds = append(adds, "a passwd entry")
	}
	if p.GroupLine != "" {
		adds = append(adds, "a group entry")
	}
	if p.CreateHome {
		adds = append(adds, "the home directory")
	}
	if len(adds) > 0 {
		b.WriteString("; hpr adds " + strings.Join(adds, ", "))
	}
	b.WriteString(".")
	for _, w := range p.Warnings {
		b.WriteString(" Warning: " + w + ".")
	}
	return b.String()
}
