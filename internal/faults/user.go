package faults

import (
	"fmt"
	"os/user"
	"strconv"
)

// User is the harness's non-root test user, whom the fault tests and the
// soak run hpr as.
type User struct {
	Name, Home string
	UID, GID   int
	Groups     []uint32 // supplementary groups: docker, hpr-podman
}

// LookupUser looks the non-root user name up, with its supplementary
// groups.
func LookupUser(name string) (User, error) {
	u, err := user.Lookup(name)
	if err != nil || name == "root" || name == "" {
		return User{}, fmt.Errorf("user %q: want the harness's non-root test user (HPR_TEST_USER) (%v)", name, err)
	}
	lu := User{Name: name, Home: u.HomeDir}
	lu.UID, _ = strconv.Atoi(u.Uid)
	lu.GID, _ = strconv.Atoi(u.Gid)
	gids, err := u.GroupIds()
	if err != nil {
		return lu, err
	}
	for _, g := range gids {
		if n, err := strconv.Atoi(g); err == nil && n != lu.GID {
			lu.Groups = append(lu.Groups, uint32(n))
		}
	}
	return lu, nil
}
