package project

import (
	"errors"

	"github.com/hostpersist/hpr/runtime"
)

// ParsePort parses a port mapping as hpr.toml's [run] ports and `hpr run -p`
// take it: "5000", "8080:80", "127.0.0.1:8080:80", "[::1]:8080:80", each
// optionally with "/tcp" or "/udp".
func ParsePort(s string) (runtime.Port, error) {
	p, msg := parsePort(s)
	if msg != "" {
		return runtime.Port{}, errors.New(msg)
	}
	return p, nil
}
