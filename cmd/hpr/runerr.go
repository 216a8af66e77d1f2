package main

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/hostpersist/hpr/runtime"
)

// portInUse turns an engine's refusal to publish a port that something on
// the host already holds (the daemon's own words, which differ by engine
// and run over several lines) into one line naming the port and what to do.
// Other errors are returned as they are.
func portInUse(err error, ports []runtime.Port) error {
	if err == nil || len(ports) == 0 {
		return err
	}
	msg := err.Error()
	if !strings.Contains(msg, "address already in use") && !strings.Contains(msg, "port is already allocated") {
		return err
	}
	var named []string
	for _, p := range ports {
		if mentionsPort(msg, p.HostPort) {
			named = append(named, portName(p))
		}
	}
	if len(named) == 0 {
		for _, p := range ports {
			named = append(named, portName(p))
		}
	}
	return fmt.Errorf("publishing %s: already in use on this host: stop what holds it, or publish another host port (-p OTHER:CONTAINER)", strings.Join(named, " or "))
}

// mentionsPort reports whether msg names port as "host:port" or "ip:port".
func mentionsPort(msg string, port uint16) bool {
	return regexp.MustCompile(`:` + strconv.Itoa(int(port)) + `\b`).MatchString(msg)
}

// portName is a published port as -p spells it: "127.0.0.1:5000/tcp",
// "[::1]:5000/tcp" (an IPv6 address in brackets, or its colons would run
// into the port's).
func portName(p runtime.Port) string {
	proto, _ := p.Proto()
	host := strconv.Itoa(int(p.HostPort))
	if p.HostIP != "" {
		host = net.JoinHostPort(p.HostIP, host)
	}
	return "port " + host + "/" + proto
}
