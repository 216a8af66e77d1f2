//go:build integration

package main_test

import (
	"encoding/json"
	"testing"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
)

type enginesJSON struct {
	Engines []struct {
		Endpoint    string      `json:"endpoint"`
		Mode        idmap.Mode  `json:"mode"`
		Version     string      `json:"version"`
		Plan        *idmap.Plan `json:"plan"`
		Explanation string      `json:"explanation"`
	} `json:"engines"`
}

// TestEnginesJSON: as the test user, hpr engines --json lists the four
// engines on standard sockets with the right modes, a version, a plan and
// its explanation, and a container hpr runs on each listed endpoint lands
// its file as the user (judged from the host); the userns-remap daemon
// appears when named with --engine.
func TestEnginesJSON(t *testing.T) {
	testenv.NonRoot(t)
	engines := testenv.Engines(t)
	byMode := map[idmap.Mode]string{}
	for _, e := range engines {
		byMode[e.Mode] = e.Endpoint
	}
	check := func(t *testing.T, args []string, want []idmap.Mode) {
		code, out, errOut := hpr(t, t.TempDir(), nil, args...)
		if code != 0 {
			t.Fatalf("hpr %q: exit %d, stderr %q", args, code, errOut)
		}
		var got enginesJSON
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		seen := map[idmap.Mode]bool{}
		for _, e := range got.Engines {
			seen[e.Mode] = true
			if want, ok := byMode[e.Mode]; ok && want != e.Endpoint {
				t.Errorf("%s listed at %s, want %s", e.Mode, e.Endpoint, want)
			}
			if e.Version == "" || e.Plan == nil || e.Explanation == "" {
				t.Errorf("%s: missing version, plan or explanation: %+v", e.Mode, e)
				continue
			}
			// The plan says how files would land; the host says how they
			// do, on the endpoint listed.
			landsAsMe(t, e.Endpoint)
		}
		for _, m := range want {
			if !seen[m] {
				t.Errorf("hpr %q does not list %s: %s", args, m, out)
			}
		}
	}
	t.Run("standard", func(t *testing.T) {
		check(t, []string{"engines", "--json"}, []idmap.Mode{idmap.DockerRootful, idmap.DockerRootless, idmap.PodmanRootless, idmap.PodmanRootful})
	})
	t.Run("remap by endpoint", func(t *testing.T) {
		ep := testenv.Need(t, idmap.DockerUsernsRemap).Endpoint
		check(t, []string{"engines", "--json", "--engine", ep}, []idmap.Mode{idmap.DockerUsernsRemap})
	})
}
