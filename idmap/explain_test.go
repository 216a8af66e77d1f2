package idmap

import (
	"strings"
	"testing"
)

func TestExplain(t *testing.T) {
	tests := []struct {
		name string
		host Host
		e    Engine
		user string
		o    Override
		want []string
	}{{
		name: "docker-rootless",
		host: hprtest, e: dockerRootless, user: "node", o: OverrideAuto,
		want: []string{"rootless Docker: container root is you; running as 0:0 so files in the project are owned by you (uid 1001).", "user is root with HOME /root."},
	}, {
		name: "docker-rootful",
		host: hprtest, e: dockerRootful, user: "node", o: OverrideAuto,
		want: []string{"rootful Docker: running as 1001:1001 so files in the project are owned by you (uid 1001).", "user is hprtest with HOME /home/hprtest; hpr adds a passwd entry, a group entry, the home directory."},
	}, {
		name: "docker-userns-remap",
		host: hprtest, e: dockerRemap, user: "", o: OverrideAuto,
		want: []string{"Docker with userns-remap: --userns=host turns remapping off", "running as 1001:1001", "owned by you (uid 1001)"},
	}, {
		name: "podman keep-id",
		host: hprtest, e: podman43, user: "", o: OverrideAuto,
		want: []string{"rootless Podman: --userns=keep-id maps you to container uid 1001; running as 1001:1001", "owned by you (uid 1001)"},
	}, {
		name: "podman keep-id:uid",
		host: hprtest, e: podman43, user: "node", o: OverrideAuto,
		want: []string{"--userns=keep-id:uid=1000,gid=1000 maps you to container uid 1000; running as 1000:1000", "owned by you (uid 1001)", "user is node with HOME /home/node."},
	}, {
		name: "old podman warns",
		host: hprtest, e: podman42, user: "node", o: OverrideAuto,
		want: []string{"--userns=keep-id maps you to container uid 1001", "Warning: Podman 4.2.0 lacks --userns=keep-id:uid=,gid= (added in 4.3)"},
	}, {
		name: "override root on rootful",
		host: hprtest, e: dockerRootful, user: "node", o: OverrideRoot,
		want: []string{`user override "root": running as 0:0 so files in the project land on the host as 0:0, not as you (uid 1001).`, "Warning: user override"},
	}, {
		name: "override image on rootless docker",
		host: hprtest, e: dockerRootless, user: "node", o: OverrideImage,
		want: []string{`container root is you; user override "image": keeping the image's USER (1000:1000) so files in the project land on the host as 100999:100999, not as you (uid 1001).`},
	}, {
		name: "host root",
		host: hostRoot, e: podmanRoot42, user: "node", o: OverrideAuto,
		want: []string{"rootful Podman: running as 0:0 so files in the project are owned by you (uid 0)."},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPlan(tt.host, tt.e, fixtureImage(t, tt.user), tt.o)
			if err != nil {
				t.Fatal(err)
			}
			got := p.Explain()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("Explain() = %q\nwant it to contain %q", got, w)
				}
			}
			if strings.Contains(got, "\n") {
				t.Errorf("Explain() = %q, want one paragraph", got)
			}
		})
	}
	if got := (Plan{Mode: "lxc"}).Explain(); !strings.Contains(got, `invalid plan: unknown engine mode "lxc"`) {
		t.Errorf("Explain() of an invalid plan = %q", got)
	}
}
