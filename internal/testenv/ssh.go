package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
)

// harnessEnv is where scripts/engines.sh writes what tests need.
const harnessEnv = "/run/hpr-harness/env"

// SSH is the harness's sshd and its users: ssh://User@Host:Port reaches the
// harness's engines as the test user; LocalUser, another uid without
// engines of its own, logs in with LocalKey as User; TestKey (the test
// user's) logs in as the test user and as LocalUser.
type SSH struct {
	Host, Port string
	User       string
	LocalUser  string
	TestKey    string
	LocalKey   string
}

// URI is ssh://User@Host:Port followed by path (a socket, or "").
func (s SSH) URI(path string) string {
	return fmt.Sprintf("ssh://%s@%s:%s%s", s.User, s.Host, s.Port, path)
}

// SSHHarness returns the harness's sshd from the environment, or from the
// harness's env file when the variables are not passed on. It skips the
// test when there is none, or fails it under HPR_REQUIRE_ENGINES=1.
func SSHHarness(t testing.TB) SSH {
	t.Helper()
	get := os.Getenv
	if get("HPR_SSH_PORT") == "" {
		vars := readExports(harnessEnv)
		get = func(k string) string { return vars[k] }
	}
	s := SSH{
		Host: get("HPR_SSH_HOST"), Port: get("HPR_SSH_PORT"), User: get("HPR_TEST_USER"),
		LocalUser: get("HPR_LOCAL_USER"), TestKey: get("HPR_SSH_TEST_KEY"), LocalKey: get("HPR_SSH_LOCAL_KEY"),
	}
	if s.Host == "" || s.Port == "" || s.User == "" || s.LocalUser == "" {
		if Required() {
			t.Fatalf("HPR_REQUIRE_ENGINES=1 but the harness's sshd is not up (HPR_SSH_* unset, none in %s): sudo scripts/engines.sh up", harnessEnv)
		}
		t.Skip("no harness sshd (sudo scripts/engines.sh up)")
	}
	return s
}

// readExports reads `export K=V` lines; a missing file reads as none.
func readExports(path string) map[string]string {
	vars := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return vars
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if ok {
			vars[k] = strings.Trim(v, `'"`)
		}
	}
	return vars
}

// Silent listens on a loopback port that accepts connections and never
// says a word (an ssh host that hangs after the TCP handshake) until the
// test ends, and returns its address.
func Silent(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	return l.Addr().String()
}
