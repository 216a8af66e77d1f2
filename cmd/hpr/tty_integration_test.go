//go:build integration

package main_test

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/hostpersist/hpr/internal/testenv"
)

// ttyScript runs in the container: it reads one key without waiting for a
// newline, and goes on with winchScript.
const ttyScript = `echo READY; IFS= read -r -n1 c; echo "got:$c"
` + winchScript

// winchScript prints the terminal size on SIGWINCH, and exits 7 on SIGINT
// — which the container's terminal sends when Ctrl-C reaches it as a byte.
const winchScript = `trap 'echo "size:$(stty size)"' WINCH; trap 'echo INT; exit 7' INT
echo WINCH-READY; while :; do sleep 1 & wait $!; done`

// TestTTY: hpr run on a real terminal (a pty) puts it in raw mode, so a key
// reaches the container at once and Ctrl-C travels as a byte to the
// container's terminal; a window size change on the host reaches the
// container as SIGWINCH with the new size; and the terminal is as it was
// when hpr has exited.
func TestTTY(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		ptmx, tty := openPTY(t, 24, 80)
		before := termios(t, tty)
		if before.Lflag&unix.ICANON == 0 {
			t.Fatal("a new pty is not in canonical mode: nothing to compare against")
		}

		p := startOnTTY(t, t.TempDir(), tty, ptmx, "run", "--engine", te.Endpoint, "--image", base, "--", "bash", "-c", ttyScript)
		p.waitOutput(t, "the container to read a key", 60*time.Second, "READY")
		if raw := termios(t, tty); raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 {
			t.Errorf("while hpr runs, the terminal's lflag is %#x: ICANON, ECHO or ISIG still set, not raw", raw.Lflag)
		}
		// No newline: on a terminal left in canonical mode the key would
		// wait in the host's line buffer.
		typeKeys(t, ptmx, "x")
		p.waitOutput(t, "the key to reach the container", 20*time.Second, "got:x")

		winchThenCtrlC(t, p, ptmx)
		after := termios(t, tty)
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("the terminal was not restored (-before +after):\n%s", diff)
		}
	})
}

// winchThenCtrlC: hpr runs winchScript on ptmx; a window size change on
// the host reaches the command as SIGWINCH with the new size, and Ctrl-C
// ends it with its trap's 7.
func winchThenCtrlC(t *testing.T, p *proc, ptmx *os.File) {
	t.Helper()
	p.waitOutput(t, "the WINCH trap", 20*time.Second, "WINCH-READY")
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 132}); err != nil {
		t.Fatal(err)
	}
	p.waitOutput(t, "the new size to reach the command", 20*time.Second, "size:40 132")
	typeKeys(t, ptmx, "\x03")
	if code := p.end(t, 20*time.Second, "Ctrl-C"); code != 7 {
		t.Errorf("exit %d after Ctrl-C, want the command's trap's 7; output %q", code, p.out.String())
	}
}

// execTTYScript runs in the project's container through hpr exec: it
// waits up to 10 s for the terminal's size (passed on once the exec has
// started), prints it, and goes on with winchScript.
const execTTYScript = `i=0; while [ "$(stty size)" != "33 111" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
echo "size:$(stty size)"
` + winchScript

// TestExecTTY: hpr exec on a real terminal (a pty) gives the command the
// terminal's size once it has started, and a new size on SIGWINCH, as hpr
// run does (TestTTY); hpr shell is the same code. On Podman the bindings
// also follow the size of hpr's stdin when it is a terminal, as here.
func TestExecTTY(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "hpr.toml"), "[image]\nref = \""+base+"\"\n")
		running := startUntil(t, dir, "run", "--engine", te.Endpoint, "--", "sh", "-c", "touch started; sleep 300")
		ptmx, tty := openPTY(t, 33, 111)
		p := startOnTTY(t, dir, tty, ptmx, "exec", "--engine", te.Endpoint, "--", "bash", "-c", execTTYScript)
		p.waitOutput(t, "the terminal's size to reach the command", 60*time.Second, "size:33 111")
		winchThenCtrlC(t, p, ptmx)
		running.signal(t, os.Interrupt)
		running.end(t, 20*time.Second, "SIGINT")
		noneLeft(t, te.Endpoint, dir)
	})
}

// openPTY opens a pty of rows x cols, closed when the test ends.
func openPTY(t *testing.T, rows, cols uint16) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		t.Fatal(err)
	}
	return ptmx, tty
}

// startOnTTY starts hpr in dir with tty as its controlling terminal and
// standard streams, and collects what it writes from the pty's master side.
func startOnTTY(t *testing.T, dir string, tty, ptmx *os.File, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(testenv.Bin(t), args...)
	cmd.Dir = dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	p := watch(t, cmd, &testenv.Buffer{})
	go io.Copy(p.out, ptmx) // ends when the test closes ptmx
	return p
}

func termios(t *testing.T, f *os.File) unix.Termios {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return *tio
}

func typeKeys(t *testing.T, ptmx *os.File, keys string) {
	t.Helper()
	if _, err := ptmx.WriteString(keys); err != nil {
		t.Fatalf("typing %q: %v", keys, err)
	}
}
