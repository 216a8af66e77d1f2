package doctor

import (
	"fmt"
	"slices"

	"github.com/hostpersist/hpr/idmap"
)

// Namespaces returns the user namespaces an engine in mode runs containers
// in, as hpr or a plain `docker run`/`podman run` would: rootful engines
// share the host's ids; a userns-remap daemon remaps into its remap ranges
// unless run with --userns=host (both are listed, the remapped one only when
// remapUIDs and remapGIDs are known); rootless Podman runs without keep-id
// by default and with it under hpr.
func Namespaces(mode idmap.Mode, remapUIDs, remapGIDs []idmap.IDRange) ([]idmap.Namespace, error) {
	switch mode {
	case idmap.DockerRootful, idmap.PodmanRootful, idmap.DockerRootless:
		return []idmap.Namespace{{Mode: mode}}, nil
	case idmap.DockerUsernsRemap:
		nss := []idmap.Namespace{{Mode: mode, Userns: "host"}}
		if len(remapUIDs) > 0 && len(remapGIDs) > 0 {
			nss = append(nss, idmap.Namespace{Mode: mode, RemapUIDs: remapUIDs, RemapGIDs: remapGIDs})
		}
		return nss, nil
	case idmap.PodmanRootless:
		return []idmap.Namespace{{Mode: mode}, {Mode: mode, Userns: "keep-id"}}, nil
	default:
		return nil, fmt.Errorf("unknown engine mode %q", mode)
	}
}

// Origins explains owner o under each namespace of nss that maps it, with
// idmap.Reverse. A namespace sharing the host's ids maps every id, so it is
// listed only when no other one maps o: a subordinate id is far more likely
// left by a rootless or remapped container than by a rootful one running as
// that very uid. Namespaces that map nothing for o are left out; the result
// is empty when none maps it.
func Origins(o Owner, nss []idmap.Namespace, h idmap.Host) ([]idmap.Owner, error) {
	var shared, mapped []idmap.Owner
	for _, ns := range nss {
		uids, _, err := ns.Mappings(h)
		if err != nil {
			return nil, err
		}
		r, err := idmap.Reverse(o.UID, o.GID, ns, h)
		if err != nil {
			return nil, err
		}
		if !r.Mapped || r.OK {
			continue
		}
		if slices.Equal(uids, idmap.IdentityMapping()) {
			shared = appendNew(shared, r)
		} else {
			mapped = appendNew(mapped, r)
		}
	}
	if len(mapped) > 0 {
		return mapped, nil
	}
	return shared, nil
}

func appendNew(os []idmap.Owner, o idmap.Owner) []idmap.Owner {
	for _, x := range os {
		if x.Text == o.Text {
			return os
		}
	}
	return append(os, o)
}
