package idmap

import (
	"bytes"
	"fmt"

	"github.com/moby/sys/user"
)

// Image is what hpr knows about an image's user: its USER and the contents
// of its /etc/passwd and /etc/group. Nil files are treated as empty.
type Image struct {
	User   string
	Passwd []byte
	Group  []byte
}

// ImageUser is an image's USER resolved against its passwd and group files.
type ImageUser struct {
	// Spec is the USER as written ("", "node:staff", "1000").
	Spec string
	UID  int
	GID  int
	// Name and Home are from the passwd entry of UID; empty when there is
	// none.
	Name string
	Home string
}

// ResolveImageUser resolves img.User the way Docker and runc do
// (GetExecUser with defaults 0:0 and HOME "/"): "" is root; a name must have
// a passwd entry and a group name a group entry, or it is an error naming
// it; a numeric uid with a passwd entry takes that entry's gid; a numeric uid
// without one runs with gid 0; an explicit group always wins.
func ResolveImageUser(img Image) (ImageUser, error) {
	eu, err := user.GetExecUser(img.User, &user.ExecUser{Uid: 0, Gid: 0, Home: "/"},
		bytes.NewReader(img.Passwd), bytes.NewReader(img.Group))
	if err != nil {
		return ImageUser{}, fmt.Errorf("resolving image USER %q against the image's /etc/passwd and /etc/group: %w", img.User, err)
	}
	iu := ImageUser{Spec: img.User, UID: eu.Uid, GID: eu.Gid}
	if u, ok, err := passwdEntry(img.Passwd, eu.Uid); err != nil {
		return ImageUser{}, err
	} else if ok {
		iu.Name, iu.Home = u.Name, u.Home
	}
	return iu, nil
}

// passwdEntry returns the first entry of passwd with uid, as the C library
// would.
func passwdEntry(passwd []byte, uid int) (user.User, bool, error) {
	us, err := user.ParsePasswdFilter(bytes.NewReader(passwd), func(u user.User) bool { return u.Uid == uid })
	if err != nil {
		return user.User{}, false, fmt.Errorf("parsing the image's /etc/passwd: %w", err)
	}
	if len(us) == 0 {
		return user.User{}, false, nil
	}
	return us[0], true, nil
}

// groupEntry returns the first entry of group with gid.
func groupEntry(group []byte, gid int) (user.Group, bool, error) {
	gs, err := user.ParseGroupFilter(bytes.NewReader(group), func(g user.Group) bool { return g.Gid == gid })
	if err != nil {
		return user.Group{}, false, fmt.Errorf("parsing the image's /etc/group: %w", err)
	}
	if len(gs) == 0 {
		return user.Group{}, false, nil
	}
	return gs[0], true, nil
}

// passwdHasName reports whether passwd has an entry called name.
func passwdHasName(passwd []byte, name string) (bool, error) {
	us, err := user.ParsePasswdFilter(bytes.NewReader(passwd), func(u user.User) bool { return u.Name == name })
	if err != nil {
		return false, fmt.Errorf("parsing the image's /etc/passwd: %w", err)
	}
	return len(us) > 0, nil
}

// groupHasName reports whether group has an entry called name.
func groupHasName(group []byte, name string) (bool, error) {
	gs, err := user.ParseGroupFilter(bytes.NewReader(group), func(g user.Group) bool { return g.Name == name })
	if err != nil {
		return false, fmt.Errorf("parsing the image's /etc/group: %w", err)
	}
	return len(gs) > 0, nil
}
