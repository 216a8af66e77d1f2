//go:build integration

package main_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hostpersist/hpr/internal/testenv"
)

// TestPortInUse: publishing a host port something already listens on is
// exit 125 with one line of hpr's that names the port and what to do, and
// leaves no container.
func TestPortInUse(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		dir := t.TempDir()
		code, _, errOut := hpr(t, dir, nil, "run", "--engine", te.Endpoint, "--image", base, "-p", "127.0.0.1:"+port+":8080", "--", "true")
		// hpr's own words, not the engine's (which differ by engine).
		want := "hpr: publishing port 127.0.0.1:" + port + "/tcp: already in use on this host"
		if code != 125 || !strings.HasPrefix(errOut, want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("exit %d, stderr %q; want 125 and one line starting %q", code, errOut, want)
		}
		noneLeft(t, te.Endpoint, dir)
	})
}

// udpServer receives one datagram on 9999/udp and writes it to /app/got.
const udpServer = `use IO::Socket::INET;
my $s = IO::Socket::INET->new(LocalPort => 9999, Proto => "udp") or die "udp: $!";
$s->recv(my $m, 100);
open(my $f, ">", "/app/got") or die; print $f $m; close $f;`

// TestPublishUDP: a UDP port published with -p HOST:CONTAINER/udp carries
// datagrams from the host to the container.
func TestPublishUDP(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		pc.Close()
		dir := t.TempDir()
		p := startHpr(t, dir, "run", "--engine", te.Endpoint, "--image", base,
			"-p", fmt.Sprintf("127.0.0.1:%d:9999/udp", port), "--", "perl", "-e", udpServer)
		conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		got := filepath.Join(dir, "got")
		// Datagrams sent before the container listens are lost: send until
		// one arrives.
		p.waitFor(t, "a datagram to reach the container", 60*time.Second, func() bool {
			conn.Write([]byte("hello-udp"))
			_, err := os.Stat(got)
			return err == nil
		})
		if code := p.end(t, 20*time.Second, "the datagram arrived"); code != 0 {
			t.Errorf("exit %d; output %q", code, p.out.String())
		}
		data, err := os.ReadFile(got)
		if err != nil || string(data) != "hello-udp" {
			t.Errorf("the container got %q, %v; want hello-udp", data, err)
		}
		wantMine(t, got)
	})
}

// tcpServer answers "hi" to every connection on 9999 until one says stop.
const tcpServer = `use IO::Socket::INET;
my $s = IO::Socket::INET->new(LocalPort => 9999, Listen => 5, ReuseAddr => 1) or die "tcp: $!";
while (my $c = $s->accept) { print $c "hi\n"; my $l = <$c>; close $c; exit 0 if defined $l && $l =~ /stop/ }`

// TestProjectPortLoopback: a port a project file publishes without an
// address is reachable on 127.0.0.1 and not on this machine's other
// address, and an explicit 0.0.0.0 is said once before the run.
func TestProjectPortLoopback(t *testing.T) {
	testenv.NonRoot(t)
	other := otherAddress(t)
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		port := freePort(t)
		dir := t.TempDir()
		write(t, filepath.Join(dir, "hpr.toml"), fmt.Sprintf("[image]\nref = %q\n[run]\nports = [\"%d:9999\", \"0.0.0.0:%d:9998\"]\ncommand = [\"perl\", \"-e\", %q]\n", base, port, freePort(t), tcpServer))
		p := startHpr(t, dir, "run", "--engine", te.Endpoint)
		say := func(addr, line string) error {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 3)
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hi\n" {
				return fmt.Errorf("read %q, %v", buf, err)
			}
			_, err = c.Write([]byte(line + "\n"))
			return err
		}
		loopback := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		p.waitFor(t, "the server to answer on "+loopback, 60*time.Second, func() bool { return say(loopback, "ping") == nil })
		if err := say(net.JoinHostPort(other, strconv.Itoa(port)), "ping"); err == nil {
			t.Errorf("port %d answered on %s, want it on loopback only", port, other)
		}
		if err := say(loopback, "stop"); err != nil {
			t.Fatalf("stopping the server: %v", err)
		}
		if code := p.end(t, 30*time.Second, "the server stopped"); code != 0 {
			t.Errorf("exit %d; output %q", code, p.out.String())
		}
		if n := strings.Count(p.out.String(), "publishes port"); n != 1 || !strings.Contains(p.out.String(), "on 0.0.0.0, which other machines may reach") {
			t.Errorf("output %q; want one warning for the 0.0.0.0 port", p.out.String())
		}
	})
}

// otherAddress is an IPv4 address of this machine that is not loopback.
func otherAddress(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	t.Fatal("this machine has no IPv4 address but loopback")
	return ""
}
