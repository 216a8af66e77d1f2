package idmap

import (
	"fmt"
	"strconv"
	"strings"
)

// maxIDs is how many ids a 32-bit uid space holds (4294967295 is reserved).
const maxIDs = 1<<32 - 1

// Mapping is a user-namespace id map, container ids to host ids, as the lines
// of /proc/PID/uid_map. An id no range covers is unmapped.
type Mapping []IDRange

// IdentityMapping is the map of a container sharing the host's ids: rootful
// engines, and --userns=host on a userns-remap daemon.
func IdentityMapping() Mapping { return Mapping{{ContainerID: 0, HostID: 0, Count: maxIDs}} }

// RootlessMapping is the namespace a rootless engine runs containers in
// without keep-id: container 0 is hostID (the host user), and container ids
// from 1 on are the subordinate ranges sub, concatenated in file order.
func RootlessMapping(hostID int, sub []IDRange) Mapping {
	m := Mapping{{ContainerID: 0, HostID: int64(hostID), Count: 1}}
	return append(m, subSlice(sub, 0, subCount(sub), 1)...)
}

// KeepIDMapping is rootless Podman's --userns=keep-id:uid=id: container id is
// hostID (the host user), container ids below id are the first subordinate
// ids, and ids above id the rest, so container root is a subordinate id.
// Plain keep-id is KeepIDMapping(h.UID, h.SubUIDs, h.UID).
func KeepIDMapping(hostID int, sub []IDRange, id int) Mapping {
	n, below := subCount(sub), int64(id)
	if below > n {
		below = n
	}
	m := subSlice(sub, 0, below, 0)
	m = append(m, IDRange{ContainerID: int64(id), HostID: int64(hostID), Count: 1})
	return append(m, subSlice(sub, below, n-below, int64(id)+1)...)
}

// RemapMapping is a userns-remap daemon's map for containers run without
// --userns=host: container ids from 0 on are the remap user's subordinate
// ranges (dockremap's /etc/subuid entries), concatenated.
func RemapMapping(remap []IDRange) Mapping {
	return subSlice(remap, 0, subCount(remap), 0)
}

func subCount(sub []IDRange) int64 {
	var n int64
	for _, r := range sub {
		n += r.Count
	}
	return n
}

// subSlice maps count ids, from position from of the concatenated ranges sub,
// to container ids starting at at.
func subSlice(sub []IDRange, from, count, at int64) Mapping {
	var m Mapping
	for _, r := range sub {
		if count <= 0 {
			break
		}
		if from >= r.Count {
			from -= r.Count
			continue
		}
		n := min(r.Count-from, count)
		m = append(m, IDRange{ContainerID: at, HostID: r.HostID + from, Count: n})
		at, count, from = at+n, count-n, 0
	}
	return m
}

// ToHost returns the host id container id id lands as, and false when the
// map does not cover it.
func (m Mapping) ToHost(id int) (int, bool) {
	for _, r := range m {
		if c := int64(id); c >= r.ContainerID && c < r.ContainerID+r.Count {
			return int(r.HostID + c - r.ContainerID), true
		}
	}
	return -1, false
}

// ToContainer returns the container id that lands as host id id, and false
// when no container id does.
func (m Mapping) ToContainer(id int) (int, bool) {
	for _, r := range m {
		if h := int64(id); h >= r.HostID && h < r.HostID+r.Count {
			return int(r.ContainerID + h - r.HostID), true
		}
	}
	return -1, false
}

// Namespace says how a container ran, enough to map ids both ways.
type Namespace struct {
	Mode Mode
	// Userns is the Plan.Userns the container ran with.
	Userns string
	// RemapUIDs and RemapGIDs are a userns-remap daemon's ranges (its remap
	// user's /etc/subuid and /etc/subgid entries). Only docker-userns-remap
	// without Userns "host" needs them.
	RemapUIDs []IDRange
	RemapGIDs []IDRange
}

// Mappings returns the uid and gid maps of a container that ran in n on
// host h. A Userns the mode does not support is an error.
func (n Namespace) Mappings(h Host) (uids, gids Mapping, err error) {
	if err := h.Validate(); err != nil {
		return nil, nil, err
	}
	switch n.Mode {
	case DockerRootful, PodmanRootful:
		if n.Userns != "" && n.Userns != "host" {
			return nil, nil, fmt.Errorf("userns %q is not one hpr uses on %s: want \"\" or \"host\"", n.Userns, n.Mode)
		}
		return IdentityMapping(), IdentityMapping(), nil
	case DockerUsernsRemap:
		switch n.Userns {
		case "host":
			return IdentityMapping(), IdentityMapping(), nil
		case "":
			if len(n.RemapUIDs) == 0 || len(n.RemapGIDs) == 0 {
				return nil, nil, fmt.Errorf("mapping ids of a remapped container: the daemon's remap ranges are unknown; pass the remap user's /etc/subuid and /etc/subgid ranges")
			}
			return RemapMapping(n.RemapUIDs), RemapMapping(n.RemapGIDs), nil
		default:
			return nil, nil, fmt.Errorf("userns %q is not one hpr uses on %s: want \"host\" or \"\"", n.Userns, n.Mode)
		}
	case DockerRootless, PodmanRootless:
		if n.Userns == "" || n.Userns == "host" {
			return RootlessMapping(h.UID, h.SubUIDs), RootlessMapping(h.GID, h.SubGIDs), nil
		}
		if n.Mode == PodmanRootless {
			uid, gid, ok, err := parseKeepID(n.Userns, h)
			if err != nil {
				return nil, nil, err
			}
			if ok {
				return KeepIDMapping(h.UID, h.SubUIDs, uid), KeepIDMapping(h.GID, h.SubGIDs, gid), nil
			}
		}
		return nil, nil, fmt.Errorf("userns %q is not one hpr uses on %s", n.Userns, n.Mode)
	default:
		return nil, nil, fmt.Errorf("unknown engine mode %q", n.Mode)
	}
}

// parseKeepID parses "keep-id" and "keep-id:uid=N,gid=M"; a missing uid or
// gid is the host user's, as in Podman. ok is false for other modes.
func parseKeepID(userns string, h Host) (uid, gid int, ok bool, err error) {
	opts, found := strings.CutPrefix(userns, "keep-id")
	if !found || (opts != "" && opts[0] != ':') {
		return 0, 0, false, nil
	}
	uid, gid = h.UID, h.GID
	if opts == "" {
		return uid, gid, true, nil
	}
	for _, kv := range strings.Split(opts[1:], ",") {
		k, v, _ := strings.Cut(kv, "=")
		id, err := strconv.Atoi(v)
		if err != nil || id < 0 {
			return 0, 0, false, fmt.Errorf("parsing userns %q: %q is not a non-negative id", userns, kv)
		}
		switch k {
		case "uid":
			uid = id
		case "gid":
			gid = id
		default:
			return 0, 0, false, fmt.Errorf("parsing userns %q: unknown keep-id option %q", userns, k)
		}
	}
	return uid, gid, true, nil
}

// Owner explains a host owner seen on a file in the project.
type Owner struct {
	HostUID int
	HostGID int
	// Mapped is whether some container id lands as HostUID; ContainerUID
	// and ContainerGID are -1 when not.
	Mapped       bool
	ContainerUID int
	ContainerGID int
	// OK is whether HostUID is the host user.
	OK bool
	// Text says which container uid produced the owner and, when not OK,
	// what to change.
	Text string
}

// Reverse says which container uid and gid produced a file owned by
// hostUID:hostGID on host h, for a container that ran in ns, and why that is
// wrong when it is not the host user.
func Reverse(hostUID, hostGID int, ns Namespace, h Host) (Owner, error) {
	if hostUID < 0 || hostGID < 0 {
		return Owner{}, fmt.Errorf("invalid file owner %d:%d: ids must not be negative", hostUID, hostGID)
	}
	title, err := ns.Mode.title()
	if err != nil {
		return Owner{}, err
	}
	uids, gids, err := ns.Mappings(h)
	if err != nil {
		return Owner{}, err
	}
	o := Owner{HostUID: hostUID, HostGID: hostGID, ContainerGID: -1}
	o.ContainerUID, o.Mapped = uids.ToContainer(hostUID)
	if g, ok := gids.ToContainer(hostGID); ok {
		o.ContainerGID = g
	}
	if hostUID == h.UID {
		o.OK, o.Text = true, "owned by you"
		return o, nil
	}
	owner := "owned by " + strconv.Itoa(hostUID)
	if hostUID == 0 {
		owner = "owned by root"
	}
	if !o.Mapped {
		o.Text = fmt.Sprintf("%s, which no container uid maps to under %s: it was not written by a container run this way (another engine or mode, or changed subuid ranges)", owner, title)
		return o, nil
	}
	who := "container uid " + strconv.Itoa(o.ContainerUID)
	if o.ContainerUID == 0 {
		who = "container root"
	}
	o.Text = fmt.Sprintf("%s = %s under %s: %s", owner, who, title, reverseFix(o.ContainerUID, ns, h))
	return o, nil
}

// reverseFix says why a container uid that is not the host user ran, and
// what hpr's plan does instead. ns was validated by Mappings.
func reverseFix(cuid int, ns Namespace, h Host) string {
	ran := "the container ran as uid " + strconv.Itoa(cuid)
	if cuid == 0 {
		ran = "the container ran as root"
	}
	switch {
	case ns.Mode == DockerRootless:
		return "--user must not be set: container root (0:0) is you, any other uid is a subordinate id"
	case ns.Mode == PodmanRootless && (ns.Userns == "" || ns.Userns == "host"):
		return fmt.Sprintf("%s without keep-id; run it with --userns=keep-id (container uid %d is then you) or as 0:0", ran, h.UID)
	case ns.Mode == PodmanRootless:
		uid, gid, _, _ := parseKeepID(ns.Userns, h)
		return fmt.Sprintf("%s, but under --userns=%s only container uid %d is you; run it as %d:%d", ran, ns.Userns, uid, uid, gid)
	case ns.Mode == DockerUsernsRemap && ns.Userns != "host":
		return fmt.Sprintf("the container ran without --userns=host, so the daemon remapped it; run it with --userns=host as %d:%d", h.UID, h.GID)
	case ns.Mode == DockerUsernsRemap:
		return fmt.Sprintf("%s; run it with --userns=host as %d:%d", ran, h.UID, h.GID)
	default:
		return fmt.Sprintf("%s; run it as %d:%d", ran, h.UID, h.GID)
	}
}
