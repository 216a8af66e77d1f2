package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/google/go-cmp/cmp"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// fake is a Client for orchestration tests: it holds one image with an
// /etc/passwd, a directory /etc and no /etc/group. Methods it does not
// override panic.
type fake struct {
	Client
	mu      sync.Mutex
	calls   []string
	copyErr error
	copied  []byte
	// resized is closed by the first resize, of a container or of an exec
	// session; an exec's command runs until then.
	resized    chan struct{}
	resizeOnce sync.Once
}

const (
	fakeImageID = "sha256:feed"
	fakePasswd  = "root:x:0:0:root:/root:/bin/sh\n"
	fakeExecID  = "e1"
)

func (f *fake) call(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fake) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	f.call("ImageInspect " + ref)
	if ref != "img" && ref != fakeImageID {
		return image.InspectResponse{}, fmt.Errorf("No such image: %s: %w", ref, cerrdefs.ErrNotFound)
	}
	return image.InspectResponse{ID: fakeImageID}, nil
}

func (f *fake) ContainerCreate(_ context.Context, c *container.Config, _ *container.HostConfig, _ *network.NetworkingConfig, _ *ocispec.Platform, _ string) (container.CreateResponse, error) {
	f.call("ContainerCreate " + c.Image)
	return container.CreateResponse{ID: "c1"}, nil
}

func (f *fake) ContainerInspect(_ context.Context, id string) (container.InspectResponse, error) {
	f.call("ContainerInspect " + id)
	return container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{ID: id, Image: fakeImageID}}, nil
}

func (f *fake) CopyFromContainer(_ context.Context, id, p string) (io.ReadCloser, container.PathStat, error) {
	f.call("CopyFromContainer " + p)
	switch p {
	case "/etc/passwd":
	case "/etc":
		return io.NopCloser(&bytes.Buffer{}), container.PathStat{Name: "etc", Mode: fs.ModeDir | 0o755}, nil
	default:
		return nil, container.PathStat{}, fmt.Errorf("Could not find the file %s in container %s: %w", p, id, cerrdefs.ErrNotFound)
	}
	content := fakePasswd
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(content))})
	tw.Write([]byte(content))
	tw.Close()
	return io.NopCloser(&b), container.PathStat{Name: "passwd", Mode: 0o644, Size: int64(len(content))}, nil
}

func (f *fake) CopyToContainer(_ context.Context, _, dst string, r io.Reader, _ container.CopyToContainerOptions) error {
	f.call("CopyToContainer " + dst)
	f.copied, _ = io.ReadAll(r)
	return f.copyErr
}

func (f *fake) ContainerRemove(_ context.Context, id string, _ container.RemoveOptions) error {
	f.call("ContainerRemove " + id)
	return nil
}

// ImageBuild reads the context as the client sends it; a failed read is
// the client's "error during connect", as the real one reports it.
func (f *fake) ImageBuild(_ context.Context, body io.Reader, _ build.ImageBuildOptions) (build.ImageBuildResponse, error) {
	f.call("ImageBuild")
	if _, err := io.ReadAll(body); err != nil {
		return build.ImageBuildResponse{}, fmt.Errorf("error during connect: Post \"http://%%2Fvar%%2Frun%%2Fdocker.sock/build\": %w", err)
	}
	return build.ImageBuildResponse{}, errors.New("not reached")
}

func (f *fake) ContainerExecCreate(_ context.Context, id string, _ container.ExecOptions) (container.ExecCreateResponse, error) {
	f.call("ContainerExecCreate " + id)
	return container.ExecCreateResponse{ID: fakeExecID}, nil
}

// ContainerExecAttach starts the exec's command, whose output ends once
// the exec or its container has been resized.
func (f *fake) ContainerExecAttach(_ context.Context, execID string, _ container.ExecAttachOptions) (types.HijackedResponse, error) {
	f.call("ContainerExecAttach " + execID)
	conn, command := net.Pipe()
	go func() {
		<-f.resized
		command.Close()
	}()
	return types.NewHijackedResponse(conn, ""), nil
}

func (f *fake) ContainerExecInspect(_ context.Context, execID string) (container.ExecInspect, error) {
	f.call("ContainerExecInspect " + execID)
	return container.ExecInspect{ExecID: execID}, nil
}

func (f *fake) ContainerExecResize(_ context.Context, execID string, o container.ResizeOptions) error {
	f.call(fmt.Sprintf("ContainerExecResize %s %dx%d", execID, o.Height, o.Width))
	f.resizeOnce.Do(func() { close(f.resized) })
	return nil
}

func (f *fake) ContainerResize(_ context.Context, id string, o container.ResizeOptions) error {
	f.call(fmt.Sprintf("ContainerResize %s %dx%d", id, o.Height, o.Width))
	f.resizeOnce.Do(func() { close(f.resized) })
	return nil
}

func (f *fake) count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func newFake(t *testing.T) (*Engine, *fake) {
	t.Helper()
	f := &fake{resized: make(chan struct{})}
	e, err := New("unix:///fake.sock", WithClient(f))
	if err != nil {
		t.Fatal(err)
	}
	return e, f
}

var fakeSpec = runtime.ContainerSpec{
	Image: "img",
	Plan: idmap.Plan{
		Mode: idmap.DockerRootful, User: "2000:2000", UID: 2000, GID: 2000,
		PasswdLine: "alice:x:2000:2000:hpr:/home/alice:/bin/sh", GroupLine: "alice:x:2000:",
		Home: "/home/alice", CreateHome: true,
	},
	Mounts: []runtime.Mount{{Source: "/cache/passwd", Target: "/etc/passwd", ReadOnly: true}},
	Tmpfs:  []runtime.Tmpfs{{Target: "/home/alice", UID: 2000, GID: 2000, Mode: 0o755}},
}

// TestCreateHandsOverVolumes checks Create hands the root of every named
// volume to the plan's user with one copy of directory entries, however the
// volume came to be, and copies nothing else: identity files and HOME are
// mounts.
func TestCreateHandsOverVolumes(t *testing.T) {
	remap := fakeSpec
	remap.Plan.Mode, remap.Plan.Userns = idmap.DockerUsernsRemap, "host"
	root := fakeSpec
	root.Plan.User, root.Plan.UID, root.Plan.GID = "0:0", 0, 0
	unmapped := fakeSpec
	unmapped.KeepVolumeOwners = true
	vols := []runtime.VolumeMount{
		{Name: "bundle", Target: "/usr/local/bundle"},
		{Name: "old", Target: "/data"},
		{Name: "cache", Target: "/var/cache/x/"},
	}
	for _, tt := range []struct {
		name    string
		spec    runtime.ContainerSpec
		volumes []runtime.VolumeMount
		want    []entry // nil: no copy at all
	}{
		{name: "no volumes", spec: fakeSpec},
		{name: "volumes", spec: fakeSpec, volumes: vols, want: []entry{
			{"usr/local/bundle", tar.TypeDir, 0o755, 2000, 2000, ""},
			{"data", tar.TypeDir, 0o755, 2000, 2000, ""},
			{"var/cache/x", tar.TypeDir, 0o755, 2000, 2000, ""},
		}},
		{name: "userns-remap", spec: remap, volumes: vols, want: []entry{
			{"usr/local/bundle", tar.TypeDir, 0o1777, 0, 0, ""},
			{"data", tar.TypeDir, 0o1777, 0, 0, ""},
			{"var/cache/x", tar.TypeDir, 0o1777, 0, 0, ""},
		}},
		// Root's too: under rootless Docker a root another container uid
		// owns is not yours.
		{name: "root plan", spec: root, volumes: vols, want: []entry{
			{"usr/local/bundle", tar.TypeDir, 0o755, 0, 0, ""},
			{"data", tar.TypeDir, 0o755, 0, 0, ""},
			{"var/cache/x", tar.TypeDir, 0o755, 0, 0, ""},
		}},
		// An anonymous volume is the engine's, new with the container.
		{name: "anonymous", spec: fakeSpec, volumes: []runtime.VolumeMount{{Target: "/tmp/anon"}, vols[0]}, want: []entry{
			{"usr/local/bundle", tar.TypeDir, 0o755, 2000, 2000, ""},
		}},
		// A container hpr does not map keeps its image's owners.
		{name: "unmapped", spec: unmapped, volumes: vols},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, f := newFake(t)
			spec := tt.spec
			spec.Volumes = tt.volumes
			id, err := e.Create(context.Background(), spec)
			if err != nil || id != "c1" {
				t.Fatalf("Create() = %q, %v", id, err)
			}
			wantCopies := 0
			if tt.want != nil {
				wantCopies = 1
			}
			if n := f.count("CopyToContainer"); n != wantCopies {
				t.Fatalf("calls %q: %d copies into the container, want %d", f.calls, n, wantCopies)
			}
			if n := f.count("CopyFromContainer"); n != 0 {
				t.Errorf("calls %q: Create read from the container", f.calls)
			}
			if f.count("ContainerRemove") != 0 {
				t.Errorf("calls %q: the container was removed", f.calls)
			}
			if diff := cmp.Diff(tt.want, readTar(t, f.copied)); diff != "" {
				t.Errorf("copied into the container (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCreateRemovesOnHandOverFailure(t *testing.T) {
	e, f := newFake(t)
	f.copyErr = errors.New("disk full")
	spec := fakeSpec
	spec.Volumes = []runtime.VolumeMount{{Name: "bundle", Target: "/usr/local/bundle"}}
	if _, err := e.Create(context.Background(), spec); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Create() = %v, want the copy's error", err)
	}
	if f.count("ContainerRemove c1") != 1 {
		t.Errorf("calls %q: want the container removed", f.calls)
	}
}

// TestReadImageFiles checks one call costs one throwaway container, removed
// after, and one copy per path: a file the image lacks is absent from the
// map, anything else that fails is an error naming the path and the image.
func TestReadImageFiles(t *testing.T) {
	for _, tt := range []struct {
		name    string
		paths   []string
		want    map[string][]byte
		wantErr string // "": none
	}{
		{name: "present and absent", paths: []string{"/etc/passwd", "/etc/group"},
			want: map[string][]byte{"/etc/passwd": []byte(fakePasswd)}},
		{name: "relative path", paths: []string{"etc/passwd"}, want: map[string][]byte{"etc/passwd": []byte(fakePasswd)}},
		{name: "not a regular file", paths: []string{"/etc/passwd", "/etc"}, wantErr: "reading /etc from image img: /etc is not a regular file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, f := newFake(t)
			got, err := e.ReadImageFiles(context.Background(), "img", tt.paths...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ReadImageFiles() error = %v, want one saying %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReadImageFiles() (-want +got):\n%s", diff)
			}
			if c, r, rm := f.count("ContainerCreate"), f.count("CopyFromContainer"), f.count("ContainerRemove c1"); c != 1 || r != len(tt.paths) || rm != 1 {
				t.Errorf("calls %q: %d containers, %d reads, %d removals; want 1, %d, 1", f.calls, c, r, rm, len(tt.paths))
			}
		})
	}
}

func TestBuildMissingBase(t *testing.T) {
	e, f := newFake(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM img AS a\nFROM debian:bookworm-slim\n"), 0o644)
	err := e.Build(context.Background(), runtime.BuildOptions{ContextDir: dir, Tag: "t"})
	if !errors.Is(err, runtime.ErrNotFound) || !strings.Contains(err.Error(), "base image debian:bookworm-slim not found on unix:///fake.sock") {
		t.Errorf("Build() = %v, want ErrNotFound naming debian:bookworm-slim and the endpoint", err)
	}
	if f.count("ImageBuild") != 0 {
		t.Error("Build() asked the daemon to build, which would pull")
	}
}

// A build context hpr fails to send is said as the context's failure, not
// as the client's connection to the daemon (which, for EACCES, translate
// would take for the socket's permission).
func TestBuildContextFailure(t *testing.T) {
	e, _ := newFake(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("[\n"), 0o644)
	err := e.Build(context.Background(), runtime.BuildOptions{ContextDir: dir, Tag: "t"})
	if err == nil || strings.Contains(err.Error(), "connect") || !strings.HasPrefix(err.Error(), "building t: reading .dockerignore") {
		t.Errorf("Build() = %v, want the context's failure", err)
	}
}
