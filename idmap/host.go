package idmap

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"github.com/moby/sys/user"
)

// Host is the identity of the user hpr runs as: whose files the project's
// are, and the subordinate id ranges a rootless engine maps container ids to.
type Host struct {
	UID    int
	GID    int
	Groups []int
	// Name and Home come from the host's passwd; both are empty for a uid
	// with no passwd entry (a CI runner started with an arbitrary --user).
	Name string
	Home string
	// SubUIDs and SubGIDs are the user's /etc/subuid and /etc/subgid
	// ranges in file order: HostID is the range start, Count its length;
	// ContainerID is unused (0) because the namespace decides where a range
	// lands (see RootlessMapping).
	SubUIDs []IDRange
	SubGIDs []IDRange
}

// hostFiles says where CurrentHost reads from, so tests can point it at
// testdata.
type hostFiles struct {
	lookupUID func(int) (user.User, error)
	subUID    string
	subGID    string
}

// CurrentHost returns the identity of the user running this process.
func CurrentHost() (Host, error) {
	groups, err := os.Getgroups()
	if err != nil {
		return Host{}, fmt.Errorf("reading supplementary groups: %w", err)
	}
	return readHost(os.Getuid(), os.Getgid(), groups, hostFiles{
		lookupUID: user.LookupUid,
		subUID:    "/etc/subuid",
		subGID:    "/etc/subgid",
	})
}

func readHost(uid, gid int, groups []int, files hostFiles) (Host, error) {
	h := Host{UID: uid, GID: gid, Groups: groups}
	u, err := files.lookupUID(uid)
	switch {
	case err == nil:
		h.Name, h.Home = u.Name, u.Home
	case errors.Is(err, user.ErrNoPasswdEntries), errors.Is(err, fs.ErrNotExist):
		// A uid without a passwd entry is still a user hpr can map; the
		// plan gives it a name inside the container.
	default:
		return Host{}, fmt.Errorf("looking up uid %d: %w", uid, err)
	}
	if h.SubUIDs, err = readSubIDs(files.subUID, h); err != nil {
		return Host{}, err
	}
	if h.SubGIDs, err = readSubIDs(files.subGID, h); err != nil {
		return Host{}, err
	}
	return h, h.Validate()
}

// readSubIDs returns the ranges of path that belong to h, by name or by
// numeric uid as subuid(5) allows. ParseSubIDFilter ignores number syntax
// errors and yields 0 for them, so a range with Count 0 or a start of 0 (which
// would also map onto host root) is junk and dropped. A missing file means no
// ranges.
func readSubIDs(path string, h Host) ([]IDRange, error) {
	uid := strconv.Itoa(h.UID)
	subs, err := user.ParseSubIDFileFilter(path, func(s user.SubID) bool {
		return (s.Name == uid || (h.Name != "" && s.Name == h.Name)) && s.Count > 0 && s.SubID > 0
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var out []IDRange
	for _, s := range subs {
		out = append(out, IDRange{HostID: s.SubID, Count: s.Count})
	}
	return out, nil
}

// Validate reports what is wrong with h: negative ids, or subordinate ranges
// that are empty or start at or below 0.
func (h Host) Validate() error {
	if h.UID < 0 || h.GID < 0 {
		return fmt.Errorf("invalid host user %d:%d: ids must not be negative", h.UID, h.GID)
	}
	for _, g := range h.Groups {
		if g < 0 {
			return fmt.Errorf("invalid host group %d: ids must not be negative", g)
		}
	}
	for _, rs := range []struct {
		file   string
		ranges []IDRange
	}{{"subuid", h.SubUIDs}, {"subgid", h.SubGIDs}} {
		for _, r := range rs.ranges {
			if r.HostID <= 0 || r.Count <= 0 {
				return fmt.Errorf("invalid %s range %d:%d: start and count must be positive", rs.file, r.HostID, r.Count)
			}
		}
	}
	return nil
}
