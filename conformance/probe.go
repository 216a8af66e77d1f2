package conformance

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/moby/sys/user"
)

// ProbeOptions says where the in-container probe acts. The flags of the
// hidden `hpr probe` subcommand set them; Run passes them.
type ProbeOptions struct {
	// App is the project mount (the app directory of the test directory).
	App string
	// Extra is the second mount, whose host path has spaces and non-ASCII
	// characters; empty when it is not mounted.
	Extra string
	// Volume is where the named volume is mounted; empty when none is.
	Volume string
	// Steps limits the steps run (by check id); nil runs them all.
	Steps []string
}

// probeReport is what the probe prints: the process's identity as the
// container sees it, and the outcome of each step.
type probeReport struct {
	UID    int   `json:"uid"`
	GID    int   `json:"gid"`
	EUID   int   `json:"euid"`
	EGID   int   `json:"egid"`
	Groups []int `json:"groups"`
	// Umask is -1 when /proc/self/status does not say.
	Umask   int    `json:"umask"`
	Cwd     string `json:"cwd"`
	User    string `json:"user"`
	Logname string `json:"logname"`
	Home    string `json:"home"`
	// PasswdName and PasswdHome are the passwd entry of UID, found the way
	// `id -un` finds it; PasswdErr says why there is none.
	PasswdName string `json:"passwd_name"`
	PasswdHome string `json:"passwd_home"`
	PasswdErr  string `json:"passwd_err,omitempty"`
	// GroupName is the group entry of GID; empty when there is none.
	GroupName string `json:"group_name"`
	// Steps maps a step (a check id) to its error, "" when it worked.
	Steps map[string]string `json:"steps"`
	// Private is what the probe read of the host's 0600 file.
	Private string `json:"private"`
	// VolumeUID, VolumeGID and VolumeMode are the volume root as the
	// container sees it before the probe writes.
	VolumeUID  int    `json:"volume_uid"`
	VolumeGID  int    `json:"volume_gid"`
	VolumeMode string `json:"volume_mode"`
	// VolumeFileUID is the owner, inside, of the file the probe wrote in
	// the volume.
	VolumeFileUID int `json:"volume_file_uid"`
}

// probeStep is one in-container action.
type probeStep struct {
	id string
	do func(o ProbeOptions, r *probeReport) error
}

// probeSteps are the probe's actions, in order. Each is independent of the
// others' success, except that symlink, hardlink and rename of the probe's
// own file need create's file only as a name.
var probeSteps = []probeStep{
	{CheckCreate, func(o ProbeOptions, _ *probeReport) error {
		return os.WriteFile(filepath.Join(o.App, fCreated), []byte(createdText), 0o666)
	}},
	{CheckNested, func(o ProbeOptions, _ *probeReport) error {
		p := filepath.Join(o.App, filepath.FromSlash(fNested))
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			return err
		}
		return os.WriteFile(p, []byte(createdText), 0o666)
	}},
	{CheckAppend, func(o ProbeOptions, _ *probeReport) error {
		f, err := os.OpenFile(filepath.Join(o.App, fAppend), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		_, err = f.WriteString(appendProbe)
		return errors.Join(err, f.Close())
	}},
	{CheckReadPrivate, func(o ProbeOptions, r *probeReport) error {
		b, err := os.ReadFile(filepath.Join(o.App, fPrivate))
		r.Private = string(b)
		return err
	}},
	{CheckDelete, func(o ProbeOptions, _ *probeReport) error {
		// os.RemoveAll hides a failure to remove a missing path; remove
		// step by step so that each error is the kernel's.
		return errors.Join(
			os.Remove(filepath.Join(o.App, fDelete)),
			os.Remove(filepath.Join(o.App, dDelete, "inner", "file.txt")),
			os.Remove(filepath.Join(o.App, dDelete, "inner")),
			os.Remove(filepath.Join(o.App, dDelete)),
		)
	}},
	{CheckRename, func(o ProbeOptions, _ *probeReport) error {
		err := os.Rename(filepath.Join(o.App, fRenameHost), filepath.Join(o.App, fRenamedHost))
		werr := os.WriteFile(filepath.Join(o.App, fRenameProbe), []byte(createdText), 0o666)
		if werr == nil {
			werr = os.Rename(filepath.Join(o.App, fRenameProbe), filepath.Join(o.App, fRenamedProbe))
		}
		return errors.Join(err, werr)
	}},
	{CheckSymlink, func(o ProbeOptions, _ *probeReport) error {
		return os.Symlink(symlinkValue, filepath.Join(o.App, fSymlink))
	}},
	{CheckHardlink, func(o ProbeOptions, _ *probeReport) error {
		return os.Link(filepath.Join(o.App, fLinkTarget), filepath.Join(o.App, fHardlink))
	}},
	{CheckChmod, func(o ProbeOptions, _ *probeReport) error {
		return os.Chmod(filepath.Join(o.App, fChmod), 0o755)
	}},
	{CheckUtimes, func(o ProbeOptions, _ *probeReport) error {
		return os.Chtimes(filepath.Join(o.App, fTimes), fixedTime, fixedTime)
	}},
	{CheckChild, func(o ProbeOptions, _ *probeReport) error {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		out, err := exec.Command(exe, "probe", "--child", filepath.Join(o.App, fChild)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
		}
		return nil
	}},
	{CheckWorldWritable, func(o ProbeOptions, _ *probeReport) error {
		return os.WriteFile(filepath.Join(o.App, filepath.FromSlash(fWorld)), []byte(createdText), 0o666)
	}},
	{CheckUnicodeMount, func(o ProbeOptions, _ *probeReport) error {
		if o.Extra == "" {
			return errors.New("the second mount is not there")
		}
		p := filepath.Join(o.Extra, filepath.FromSlash(fExtraNested))
		return errors.Join(
			os.WriteFile(filepath.Join(o.Extra, fExtra), []byte(createdText), 0o666),
			os.MkdirAll(filepath.Dir(p), 0o777),
			os.WriteFile(p, []byte(createdText), 0o666),
		)
	}},
	{CheckHome, func(_ ProbeOptions, r *probeReport) error {
		if r.Home == "" {
			return errors.New("HOME is not set")
		}
		fi, err := os.Stat(r.Home)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("HOME %s is not a directory", r.Home)
		}
		f, err := os.CreateTemp(r.Home, ".hpr-probe-*")
		if err != nil {
			return err
		}
		return errors.Join(f.Close(), os.Remove(f.Name()))
	}},
	{CheckTmp, func(_ ProbeOptions, _ *probeReport) error {
		f, err := os.CreateTemp("/tmp", "hpr-probe-*")
		if err != nil {
			return err
		}
		_, werr := f.WriteString("tmp\n")
		return errors.Join(werr, f.Close(), os.Remove(f.Name()))
	}},
	{CheckVolume, func(o ProbeOptions, r *probeReport) error {
		if o.Volume == "" {
			return errors.New("no volume is mounted")
		}
		var st syscall.Stat_t
		if err := syscall.Stat(o.Volume, &st); err != nil {
			return &os.PathError{Op: "stat", Path: o.Volume, Err: err}
		}
		r.VolumeUID, r.VolumeGID = int(st.Uid), int(st.Gid)
		r.VolumeMode = fmt.Sprintf("%04o", st.Mode&0o7777)
		p := filepath.Join(o.Volume, filepath.FromSlash(fVolumeDir))
		err := errors.Join(
			os.WriteFile(filepath.Join(o.Volume, fVolume), []byte(createdText), 0o666),
			os.MkdirAll(filepath.Dir(p), 0o777),
			os.WriteFile(p, []byte(createdText), 0o666),
		)
		r.VolumeFileUID = -1
		if err := syscall.Stat(p, &st); err == nil {
			r.VolumeFileUID = int(st.Uid)
		}
		return err
	}},
}

// Probe is the in-container side of a conformance run (`hpr probe`): it does
// every action in o's directories, then writes one JSON report to w. A
// failed action is in the report, not an error; Probe fails only when it
// cannot write the report.
func Probe(w io.Writer, o ProbeOptions) error {
	r := probeReport{
		UID: os.Getuid(), GID: os.Getgid(), EUID: os.Geteuid(), EGID: os.Getegid(),
		Umask: readUmask(), User: os.Getenv("USER"), Logname: os.Getenv("LOGNAME"), Home: os.Getenv("HOME"),
		Steps: map[string]string{},
	}
	r.Groups, _ = os.Getgroups()
	if r.Groups == nil {
		r.Groups = []int{}
	}
	r.Cwd, _ = os.Getwd()
	if u, err := user.LookupUid(r.UID); err != nil {
		r.PasswdErr = err.Error()
	} else {
		r.PasswdName, r.PasswdHome = u.Name, u.Home
	}
	if g, err := user.LookupGid(r.GID); err == nil {
		r.GroupName = g.Name
	}
	want := map[string]bool{}
	for _, s := range o.Steps {
		want[s] = true
	}
	for _, s := range probeSteps {
		if len(want) > 0 && !want[s.id] {
			continue
		}
		r.Steps[s.id] = ""
		if err := s.do(o, &r); err != nil {
			// Joined errors are one per line; a report detail is one line.
			r.Steps[s.id] = strings.ReplaceAll(err.Error(), "\n", "; ")
		}
	}
	enc := json.NewEncoder(w)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("writing the probe report: %w", err)
	}
	return nil
}

// ProbeChild is the probe's child process: it writes path.
func ProbeChild(path string) error {
	return os.WriteFile(path, []byte("written by a child process\n"), 0o666)
}

// Clean removes everything inside dir, which stays. It runs as container
// root to remove what a failed run left that the host user cannot.
func Clean(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
	return errors.Join(errs...)
}

// readUmask reads the process's umask from /proc/self/status (Linux 4.7 and
// later); -1 when it is not there. umask(2) would change it to read it.
func readUmask() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Umask:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 8, 32)
			if err != nil {
				return -1
			}
			return int(n)
		}
	}
	return -1
}
