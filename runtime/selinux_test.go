package runtime

import (
	"errors"
	"testing"
)

func TestParseSELinux(t *testing.T) {
	for _, s := range []string{"", "disable", "shared", "private"} {
		if got, err := ParseSELinux(s); err != nil || string(got) != s {
			t.Errorf("ParseSELinux(%q) = %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"z", "Z", "enforcing", "Disable"} {
		if _, err := ParseSELinux(s); err == nil {
			t.Errorf("ParseSELinux(%q): no error", s)
		}
	}
}

// By default only an engine that enforces SELinux gets label=disable; a
// setting is applied as given either way.
func TestSELinuxFor(t *testing.T) {
	selinux, plain := Info{Platform: Platform{SELinux: true}}, Info{}
	for _, tc := range []struct {
		setting SELinuxLabel
		info    Info
		want    SELinuxLabel
	}{
		{SELinuxNone, selinux, SELinuxDisable},
		{SELinuxNone, plain, SELinuxNone},
		{SELinuxShared, selinux, SELinuxShared},
		{SELinuxPrivate, selinux, SELinuxPrivate},
		{SELinuxDisable, plain, SELinuxDisable},
		{SELinuxPrivate, plain, SELinuxPrivate},
	} {
		if got := SELinuxFor(tc.setting, tc.info); got != tc.want {
			t.Errorf("SELinuxFor(%q, selinux=%v) = %q, want %q", tc.setting, tc.info.SELinux, got, tc.want)
		}
	}
}

// Only the project's mount is relabelled private; hpr's own files, which
// other containers mount too, are relabelled shared.
func TestRelabel(t *testing.T) {
	project := Mount{Source: "/home/me/blog", Target: "/app", Project: true}
	passwd := Mount{Source: "/cache/passwd-1", Target: "/etc/passwd", ReadOnly: true}
	for _, tc := range []struct {
		label            SELinuxLabel
		project, passwdR string
	}{
		{SELinuxNone, "", ""},
		{SELinuxDisable, "", ""},
		{SELinuxShared, "z", "z"},
		{SELinuxPrivate, "Z", "z"},
	} {
		spec := ContainerSpec{SELinux: tc.label}
		p, err1 := spec.Relabel(project)
		w, err2 := spec.Relabel(passwd)
		if err1 != nil || err2 != nil || p != tc.project || w != tc.passwdR {
			t.Errorf("%q: project %q, passwd %q (%v, %v); want %q, %q", tc.label, p, w, err1, err2, tc.project, tc.passwdR)
		}
	}
	if _, err := (ContainerSpec{SELinux: "z"}).Relabel(project); !errors.Is(err, ErrUnsupported) {
		t.Errorf("an unknown labelling: %v, want ErrUnsupported", err)
	}
}
