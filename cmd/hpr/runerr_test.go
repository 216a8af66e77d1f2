package main

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hostpersist/hpr/runtime"
)

func TestPortInUse(t *testing.T) {
	web := runtime.Port{HostIP: "127.0.0.1", HostPort: 5000, ContainerPort: 5000}
	dns := runtime.Port{HostPort: 5353, ContainerPort: 53, Protocol: "udp"}
	other := errors.New("starting container: no such image")
	for _, c := range []struct {
		name  string
		err   error
		ports []runtime.Port
		want  string
	}{{
		name:  "rootless docker",
		err:   errors.New("starting container: starting container b5b254692d90: Error response from daemon: driver failed programming external connectivity on endpoint hpr-tmp-10b96b (da0f2a4b): Error starting userland proxy: error while calling PortManager.AddPort(): listen tcp4 127.0.0.1:5000: bind: address already in use"),
		ports: []runtime.Port{dns, web},
		want:  "publishing port 127.0.0.1:5000/tcp: already in use on this host: stop what holds it, or publish another host port (-p OTHER:CONTAINER)",
	}, {
		name:  "rootless podman",
		err:   errors.New("attaching to container: attaching to 814a00dd43ef: preparing container 814a00dd43ef for attach: rootlessport listen tcp 127.0.0.1:5000: bind: address already in use"),
		ports: []runtime.Port{web},
		want:  "publishing port 127.0.0.1:5000/tcp: already in use on this host: stop what holds it, or publish another host port (-p OTHER:CONTAINER)",
	}, {
		name:  "rootful podman",
		err:   errors.New("attaching to container: attaching to faa23631d4a6: preparing container faa23631d4a6 for attach: cannot listen on the TCP port: listen tcp4 127.0.0.1:5000: bind: address already in use"),
		ports: []runtime.Port{web},
		want:  "publishing port 127.0.0.1:5000/tcp: already in use on this host: stop what holds it, or publish another host port (-p OTHER:CONTAINER)",
	}, {
		name:  "docker's allocator",
		err:   errors.New("Bind for 0.0.0.0:5353 failed: port is already allocated"),
		ports: []runtime.Port{web, dns},
		want:  "publishing port 5353/udp: already in use on this host: stop what holds it, or publish another host port (-p OTHER:CONTAINER)",
	}, {
		name:  "no port in the words: every published one",
		err:   errors.New("rootlessport: bind: address already in use"),
		ports: []runtime.Port{web, dns},
		want:  "publishing port 127.0.0.1:5000/tcp or port 5353/udp: already in use on this host: stop what holds it, or publish another host port (-p OTHER:CONTAINER)",
	}, {
		name:  "a port number inside another is not it",
		err:   errors.New("listen tcp 0.0.0.0:50001: bind: address already in use"),
		ports: []runtime.Port{web, dns},
		want:  "publishing port 127.0.0.1:5000/tcp or port 5353/udp: already in use on this host: stop what holds it, or publish another host port (-p OTHER:CONTAINER)",
	}, {
		name:  "an IPv6 address in brackets",
		err:   errors.New("listen tcp6 [::1]:5000: bind: address already in use"),
		ports: []runtime.Port{{HostIP: "::1", HostPort: 5000, ContainerPort: 5000}},
		want:  "publishing port [::1]:5000/tcp: already in use on this host: stop what holds it, or publish another host port (-p OTHER:CONTAINER)",
	}, {
		name:  "another error",
		err:   other,
		ports: []runtime.Port{web},
		want:  other.Error(),
	}, {
		name: "no ports published",
		err:  errors.New("address already in use"),
		want: "address already in use",
	}} {
		t.Run(c.name, func(t *testing.T) {
			got := portInUse(c.err, c.ports)
			if diff := cmp.Diff(c.want, got.Error()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if portInUse(nil, []runtime.Port{web}) != nil {
		t.Error("nil error: want nil")
	}
}

// gc and the next run leave alone what another user's hpr made on an engine
// users share; what an hpr from before the label made may be anyone's.
func TestMine(t *testing.T) {
	for _, c := range []struct {
		labels map[string]string
		want   bool
	}{
		{map[string]string{runtime.LabelUID: "2000"}, true},
		{map[string]string{runtime.LabelUID: "2001"}, false},
		{map[string]string{runtime.LabelUID: ""}, false},
		{map[string]string{runtime.LabelProject: "/p"}, true},
	} {
		if got := mine(c.labels, 2000); got != c.want {
			t.Errorf("mine(%v, 2000) = %v, want %v", c.labels, got, c.want)
		}
	}
}
