package docker

import (
	"context"
	"fmt"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	"github.com/hostpersist/hpr/runtime"
)

// networkClient is the part of the Docker API client that networks need.
// It is asked for apart from Client so that the fakes of the tests that
// never touch a network need not implement it; *client.Client does.
type networkClient interface {
	NetworkCreate(ctx context.Context, name string, opts network.CreateOptions) (network.CreateResponse, error)
	NetworkRemove(ctx context.Context, id string) error
	NetworkList(ctx context.Context, opts network.ListOptions) ([]network.Summary, error)
}

func (e *Engine) networks() (networkClient, error) {
	nc, ok := e.c.(networkClient)
	if !ok {
		return nil, fmt.Errorf("%w: this Docker client has no network calls", runtime.ErrUnsupported)
	}
	return nc, nil
}

// CreateNetwork creates a bridge network.
func (e *Engine) CreateNetwork(ctx context.Context, spec runtime.NetworkSpec) error {
	nc, err := e.networks()
	if err == nil {
		_, err = nc.NetworkCreate(ctx, spec.Name, network.CreateOptions{Driver: "bridge", Labels: spec.Labels})
		err = e.translate(err)
	}
	if err != nil {
		return fmt.Errorf("creating network %s: %w", spec.Name, err)
	}
	return nil
}

// RemoveNetwork removes a network.
func (e *Engine) RemoveNetwork(ctx context.Context, name string) error {
	nc, err := e.networks()
	if err == nil {
		err = e.translate(nc.NetworkRemove(ctx, name))
	}
	if err != nil {
		return fmt.Errorf("removing network %s: %w", name, err)
	}
	return nil
}

// Networks lists the networks carrying all the labels given.
func (e *Engine) Networks(ctx context.Context, labels map[string]string) ([]runtime.Network, error) {
	nc, err := e.networks()
	if err != nil {
		return nil, fmt.Errorf("listing networks: %w", err)
	}
	ns, err := nc.NetworkList(ctx, network.ListOptions{Filters: labelFilters(labels)})
	if err != nil {
		return nil, fmt.Errorf("listing networks: %w", e.translate(err))
	}
	out := make([]runtime.Network, 0, len(ns))
	for _, n := range ns {
		out = append(out, runtime.Network{Name: n.Name, Labels: n.Labels})
	}
	return out, nil
}

// Address returns the container's IPv4 address on the network.
func (e *Engine) Address(ctx context.Context, id, net string) (string, error) {
	ci, err := e.c.ContainerInspect(ctx, id)
	if err != nil {
		return "", fmt.Errorf("inspecting container %s: %w", runtime.ShortID(id), e.translate(err))
	}
	if ci.NetworkSettings != nil {
		if ep := ci.NetworkSettings.Networks[net]; ep != nil && ep.IPAddress != "" {
			return ep.IPAddress, nil
		}
	}
	return "", fmt.Errorf("container %s has no address on network %s: %w", runtime.ShortID(id), net, runtime.ErrNotFound)
}

// labelFilters selects what carries all the labels given; an empty value
// matches on the key alone.
func labelFilters(labels map[string]string) filters.Args {
	f := filters.NewArgs()
	for k, v := range labels {
		if v == "" {
			f.Add("label", k)
		} else {
			f.Add("label", k+"="+v)
		}
	}
	return f
}

// hostExtras applies the spec's network, hosts entries and the host access
// the user allowed to a create request.
func hostExtras(spec runtime.ContainerSpec, hc *container.HostConfig) error {
	if spec.Network != "" {
		hc.NetworkMode = container.NetworkMode(spec.Network)
	}
	hc.ExtraHosts = spec.ExtraHosts
	hc.Privileged = spec.Privileged
	if spec.PIDHost {
		hc.PidMode = "host"
	}
	if spec.IPCHost {
		hc.IpcMode = container.IPCModeHost
	}
	for _, d := range spec.Devices {
		parts := strings.Split(d, ":")
		m := container.DeviceMapping{PathOnHost: parts[0], PathInContainer: parts[0], CgroupPermissions: "rwm"}
		switch len(parts) {
		case 1:
		case 2:
			m.PathInContainer = parts[1]
		case 3:
			m.PathInContainer, m.CgroupPermissions = parts[1], parts[2]
		default:
			return fmt.Errorf("device %q: want HOST[:CONTAINER[:PERMISSIONS]]", d)
		}
		hc.Devices = append(hc.Devices, m)
	}
	return nil
}
