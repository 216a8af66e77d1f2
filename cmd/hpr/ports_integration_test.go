//go:build integration

package main_test

import (
	"fmt"
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
