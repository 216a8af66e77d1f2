package idmap

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEngineMode(t *testing.T) {
	tests := []struct {
		name    string
		e       Engine
		want    Mode
		wantErr string
	}{
		{"docker rootful", Engine{Kind: KindDocker}, DockerRootful, ""},
		{"docker userns-remap", Engine{Kind: KindDocker, UsernsRemap: true}, DockerUsernsRemap, ""},
		{"docker rootless", Engine{Kind: KindDocker, Rootless: true}, DockerRootless, ""},
		{"podman rootless", Engine{Kind: KindPodman, Rootless: true}, PodmanRootless, ""},
		{"podman rootful", Engine{Kind: KindPodman}, PodmanRootful, ""},
		{"docker rootless and remap", Engine{Kind: KindDocker, Rootless: true, UsernsRemap: true}, "", "both rootless and userns-remap"},
		{"podman remap", Engine{Kind: KindPodman, UsernsRemap: true}, "", "podman engine reports userns-remap"},
		{"podman rootless remap", Engine{Kind: KindPodman, Rootless: true, UsernsRemap: true}, "", "podman engine reports userns-remap"},
		{"unknown kind", Engine{Kind: "containerd"}, "", `unknown engine kind "containerd"`},
		{"empty kind", Engine{}, "", `unknown engine kind ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.e.Mode()
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Mode() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range Modes {
		t.Run(string(m), func(t *testing.T) {
			got, err := ParseMode(string(m))
			checkErr(t, err, "")
			if diff := cmp.Diff(m, got); diff != "" {
				t.Errorf("ParseMode() mismatch (-want +got):\n%s", diff)
			}
		})
	}
	for _, s := range []string{"", "docker", "Docker-Rootful", "podman-userns-remap"} {
		t.Run("bad "+s, func(t *testing.T) {
			_, err := ParseMode(s)
			checkErr(t, err, "unknown engine mode")
		})
	}
}

func TestParseOverride(t *testing.T) {
	tests := []struct {
		in      string
		want    Override
		wantErr string
	}{
		{"auto", OverrideAuto, ""},
		{"root", OverrideRoot, ""},
		{"image", OverrideImage, ""},
		{"", "", `unknown user override ""`},
		{"1000", "", `unknown user override "1000"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseOverride(tt.in)
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseOverride() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVersionAtLeast(t *testing.T) {
	tests := []struct {
		v       string
		want    bool
		wantErr string
	}{
		{"4.2.0", false, ""},
		{"4.2.9-rc1", false, ""},
		{"4.3.0", true, ""},
		{"4.3", true, ""},
		{"v4.9.4", true, ""},
		{"5.0.0-dev", true, ""},
		{"3.9.0", false, ""},
		{"", false, "parsing engine version"},
		{"4", false, "parsing engine version"},
		{"four.three", false, "parsing engine version"},
	}
	for _, tt := range tests {
		t.Run(tt.v, func(t *testing.T) {
			got, err := versionAtLeast(tt.v, 4, 3)
			checkErr(t, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("versionAtLeast(%q, 4, 3) = %v, want %v", tt.v, got, tt.want)
			}
		})
	}
}
