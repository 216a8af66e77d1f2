package podman

import (
	"context"
	"fmt"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/network"
	"github.com/containers/podman/v5/pkg/specgen"
	spec "github.com/opencontainers/runtime-spec/specs-go"
	nettypes "go.podman.io/common/libnetwork/types"

	"github.com/hostpersist/hpr/runtime"
)

// CreateNetwork creates a bridge network.
func (e *Engine) CreateNetwork(ctx context.Context, ns runtime.NetworkSpec) error {
	c, cancel := e.call(ctx)
	defer cancel()
	if _, err := network.Create(c, &nettypes.Network{Name: ns.Name, Driver: "bridge", Labels: ns.Labels}); err != nil {
		return fmt.Errorf("creating network %s: %w", ns.Name, e.translate(ctx, err))
	}
	return nil
}

// RemoveNetwork removes a network.
func (e *Engine) RemoveNetwork(ctx context.Context, name string) error {
	c, cancel := e.call(ctx)
	defer cancel()
	reports, err := network.Remove(c, name, nil)
	for _, r := range reports {
		if err == nil && r.Err != nil {
			err = r.Err
		}
	}
	if err != nil {
		return fmt.Errorf("removing network %s: %w", name, e.translate(ctx, err))
	}
	return nil
}

// Networks lists the networks carrying all the labels given.
func (e *Engine) Networks(ctx context.Context, labels map[string]string) ([]runtime.Network, error) {
	sel := labelSelectors(labels)
	c, cancel := e.call(ctx)
	defer cancel()
	opts := new(network.ListOptions)
	if len(sel) > 0 {
		opts = opts.WithFilters(map[string][]string{"label": sel})
	}
	ns, err := network.List(c, opts)
	if err != nil {
		return nil, fmt.Errorf("listing networks: %w", e.translate(ctx, err))
	}
	out := make([]runtime.Network, 0, len(ns))
	for _, n := range ns {
		out = append(out, runtime.Network{Name: n.Name, Labels: n.Labels})
	}
	return out, nil
}

// Address returns the container's IPv4 address on the network.
func (e *Engine) Address(ctx context.Context, id, net string) (string, error) {
	c, cancel := e.call(ctx)
	defer cancel()
	d, err := containers.Inspect(c, id, nil)
	if err != nil {
		return "", fmt.Errorf("inspecting %s: %w", id, e.translate(ctx, err))
	}
	if d.NetworkSettings != nil {
		if ep := d.NetworkSettings.Networks[net]; ep != nil && ep.IPAddress != "" {
			return ep.IPAddress, nil
		}
	}
	return "", fmt.Errorf("container %s has no address on network %s: %w", id, net, runtime.ErrNotFound)
}

// specExtras applies the spec's network, hosts entries and the host access
// the user allowed to libpod's spec.
func specExtras(cs runtime.ContainerSpec, s *specgen.SpecGenerator) {
	switch cs.Network {
	case "":
	case runtime.NetworkHost:
		s.NetNS = specgen.Namespace{NSMode: specgen.Host}
	default:
		s.NetNS = specgen.Namespace{NSMode: specgen.Bridge}
		s.Networks = map[string]nettypes.PerNetworkOptions{cs.Network: {}}
	}
	s.HostAdd = cs.ExtraHosts
	if cs.Privileged {
		s.Privileged = &cs.Privileged
	}
	if cs.PIDHost {
		s.PidNS = specgen.Namespace{NSMode: specgen.Host}
	}
	if cs.IPCHost {
		s.IpcNS = specgen.Namespace{NSMode: specgen.Host}
	}
	for _, d := range cs.Devices {
		s.Devices = append(s.Devices, spec.LinuxDevice{Path: d})
	}
}
