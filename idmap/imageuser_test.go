package idmap

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fixtureImage returns an image with USER u and testdata/image's passwd and
// group.
func fixtureImage(t *testing.T, u string) Image {
	t.Helper()
	passwd, err := os.ReadFile("testdata/image/passwd")
	if err != nil {
		t.Fatal(err)
	}
	group, err := os.ReadFile("testdata/image/group")
	if err != nil {
		t.Fatal(err)
	}
	return Image{User: u, Passwd: passwd, Group: group}
}

func TestResolveImageUser(t *testing.T) {
	node := func(spec string, gid int) ImageUser {
		return ImageUser{Spec: spec, UID: 1000, GID: gid, Name: "node", Home: "/home/node"}
	}
	tests := []struct {
		user    string
		noFiles bool
		want    ImageUser
		wantErr string
	}{
		{user: "", want: ImageUser{Name: "root", Home: "/root"}},
		{user: "root", want: ImageUser{Spec: "root", Name: "root", Home: "/root"}},
		{user: "0", want: ImageUser{Spec: "0", Name: "root", Home: "/root"}},
		{user: "1000", want: node("1000", 1000)},
		{user: "1000:1000", want: node("1000:1000", 1000)},
		{user: "node", want: node("node", 1000)},
		{user: "node:staff", want: node("node:staff", 50)},
		{user: "node:1000", want: node("node:1000", 1000)},
		{user: "1000:staff", want: node("1000:staff", 50)},
		{user: "node:4000", want: node("node:4000", 4000)},
		// Docker and runc: a numeric uid without a passwd entry runs with gid 0.
		{user: "4242", want: ImageUser{Spec: "4242", UID: 4242}},
		{user: "4242:4242", want: ImageUser{Spec: "4242:4242", UID: 4242, GID: 4242}},
		{user: "", noFiles: true, want: ImageUser{}},
		{user: "1000:1000", noFiles: true, want: ImageUser{Spec: "1000:1000", UID: 1000, GID: 1000}},
		{user: "ghost", wantErr: "unable to find user ghost"},
		{user: "node:ghosts", wantErr: "unable to find group ghosts"},
		{user: "node", noFiles: true, wantErr: "unable to find user node"},
		{user: "-1", wantErr: "resolving image USER"},
	}
	for _, tt := range tests {
		name := tt.user
		if tt.noFiles {
			name += " without files"
		}
		t.Run(name, func(t *testing.T) {
			img := fixtureImage(t, tt.user)
			if tt.noFiles {
				img.Passwd, img.Group = nil, nil
			}
			got, err := ResolveImageUser(img)
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ResolveImageUser() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
