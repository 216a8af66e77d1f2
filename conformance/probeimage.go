package conformance

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hostpersist/hpr/runtime"
)

// ProbePath is where the probe binary is inside a container: in the probe
// image, and where it is bind-mounted into a user's image.
const ProbePath = "/.hpr/hpr"

// buildTags are the tags a static hpr needs (the Podman bindings build
// statically only with them).
const buildTags = "remote containers_image_openpgp exclude_graphdriver_btrfs btrfs_noversion exclude_graphdriver_devicemapper exclude_graphdriver_overlay exclude_graphdriver_zfs containers_image_docker_daemon_stub"

// StaticBuildHint is how to build an hpr that can run inside a container.
const StaticBuildHint = "make build, or CGO_ENABLED=0 go build -trimpath -tags '" + buildTags + "' -o bin/hpr ./cmd/hpr"

// binary is the static hpr binary the probe runs.
type binary struct {
	Path string
	// Digest is the hex sha256 of the file.
	Digest string
}

// loadBinary checks that the file at path is a static ELF executable, which
// can run in any image, and hashes it. A dynamically linked binary (one with
// an ELF interpreter) is an error that says how to build a static one.
func loadBinary(path string) (binary, error) {
	if err := CheckStatic(path); err != nil {
		return binary{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return binary{}, fmt.Errorf("hashing %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return binary{}, fmt.Errorf("hashing %s: %w", path, err)
	}
	return binary{Path: path, Digest: hex.EncodeToString(h.Sum(nil))}, nil
}

// CheckStatic returns an error unless path is a statically linked ELF
// executable.
func CheckStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("reading %s as an ELF executable: %w; the probe needs a static Linux hpr: %s", path, err, StaticBuildHint)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		interp := "an ELF interpreter"
		if b, err := io.ReadAll(io.LimitReader(p.Open(), 4096)); err == nil {
			interp = string(trimNUL(b))
		}
		return fmt.Errorf("%s is dynamically linked (it needs %s), so it cannot run inside a container image; build a static hpr: %s", path, interp, StaticBuildHint)
	}
	return nil
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// probeRef is the probe image's reference: hpr-probe:<first 12 hex digits of
// the binary's sha256>. A new binary gets a new image; the same binary is
// imported once per engine.
func (b binary) probeRef() string { return probeRepo + ":" + b.Digest[:12] }

// userProbeRef is the probe image with USER uid:uid.
func (b binary) userProbeRef(uid int) string {
	return fmt.Sprintf("%s-user%d", b.probeRef(), uid)
}

// otherUID is the USER of the USER-image run: a uid that is not the host
// user's.
func otherUID(hostUID int) int {
	if hostUID == 1000 {
		return 1001
	}
	return 1000
}

const (
	probePasswd = "root:x:0:0:root:/root:/.hpr/hpr\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
	probeGroup  = "root:x:0:\nnogroup:x:65534:\n"
)

// probeChanges are the Dockerfile instructions applied when the probe image
// is imported: an imported image has no PATH (Podman adds none), and the
// probe is its entrypoint.
func probeChanges(version, user string) []string {
	c := []string{
		"ENV PATH=/.hpr:/usr/local/bin:/usr/bin:/bin",
		`ENTRYPOINT ["` + ProbePath + `"]`,
		`CMD ["probe"]`,
		"WORKDIR /app",
		"LABEL " + runtime.LabelVersion + "=" + strconv.Quote(version),
		"LABEL " + runtime.LabelUID + "=" + strconv.Quote(strconv.Itoa(os.Getuid())),
	}
	if user != "" {
		c = append(c, "USER "+user)
	}
	return c
}

// writeProbeTar writes the probe image's root filesystem: the binary, a
// passwd and group with root and nobody, /tmp (1777), /app, /root and
// /home.
func writeProbeTar(w io.Writer, bin binary) error {
	f, err := os.Open(bin.Path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", bin.Path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("reading %s: %w", bin.Path, err)
	}
	mtime := time.Unix(0, 0)
	tw := tar.NewWriter(w)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: mtime, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: size, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	steps := []func() error{
		func() error { return dir(".hpr", 0o755) },
		func() error { return file(".hpr/hpr", 0o755, fi.Size(), f) },
		func() error { return dir("etc", 0o755) },
		func() error {
			return file("etc/passwd", 0o644, int64(len(probePasswd)), strings.NewReader(probePasswd))
		},
		func() error { return file("etc/group", 0o644, int64(len(probeGroup)), strings.NewReader(probeGroup)) },
		func() error { return dir("tmp", 0o1777) },
		func() error { return dir("app", 0o755) },
		func() error { return dir("root", 0o700) },
		func() error { return dir("home", 0o755) },
		tw.Close,
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return fmt.Errorf("writing the probe image: %w", err)
		}
	}
	return nil
}

// ensureProbeImage imports the probe image as ref (with USER user when not
// empty) unless the engine has it.
func ensureProbeImage(ctx context.Context, e runtime.Engine, bin binary, ref, version, user string) error {
	_, err := e.Image(ctx, ref)
	if err == nil {
		return nil
	}
	if !errors.Is(err, runtime.ErrNotFound) {
		return fmt.Errorf("looking for the probe image %s: %w", ref, err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeProbeTar(pw, bin)) }()
	err = e.Import(ctx, runtime.ImportOptions{Ref: ref, Tar: pr, Changes: probeChanges(version, user)})
	// Unblock the writer if the import stopped reading early.
	pr.CloseWithError(errors.New("import ended"))
	if err != nil {
		return fmt.Errorf("importing the probe image %s: %w", ref, err)
	}
	return nil
}

// probeRepo is the repository every probe image is tagged in.
const probeRepo = "hpr-probe"

// RemoveOldProbes removes the probe images of other hpr binaries than the
// one at binPath (every `hpr conformance` of a new build imports its own,
// hpr-probe:<digest>[-user<uid>]) and returns how many it removed. An image
// a running container still uses is left, and said so in the error.
func RemoveOldProbes(ctx context.Context, e runtime.Engine, binPath string) (int, error) {
	bin, err := loadBinary(binPath)
	if err != nil {
		return 0, err
	}
	imgs, err := e.ImagesNamed(ctx, probeRepo)
	if err != nil {
		return 0, err
	}
	current := bin.Digest[:12] // the tag of probeRef and userProbeRef
	n := 0
	var errs []error
	for _, img := range imgs {
		if _, tag, _ := strings.Cut(img.Ref, ":"); strings.HasPrefix(tag, current) || !ownProbe(img, os.Getuid()) {
			continue
		}
		if err := e.RemoveImage(ctx, img.Ref); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// ownProbe reports whether img is a probe image the user uid may remove:
// one labelled for uid, or one of an hpr from before the label, which
// cannot tell.
func ownProbe(img runtime.Image, uid int) bool {
	owner, ok := img.Labels[runtime.LabelUID]
	return !ok || owner == strconv.Itoa(uid)
}
