package project

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hostpersist/hpr/runtime"
)

// environment is env_file, then environment over it, sorted by key.
func (c *composer) environment(p *Project, s *composeService) error {
	env := map[string]string{}
	files, _ := s.def["env_file"].([]any)
	for i, e := range files {
		ef, _ := e.(map[string]any)
		path, _ := ef["path"].(string)
		required, ok := boolean(ef["required"])
		if !ok {
			required = true
		}
		if _, err := os.Stat(path); err != nil && !required {
			continue
		}
		real, err := c.read(s.at("env_file", elemSeg(i)), path, fmt.Sprintf("service %q: env_file %s", s.name, path))
		if err != nil {
			return err
		}
		vals, err := readDotenv(real, c.env.get)
		var limit *Error
		if errors.As(err, &limit) {
			return err
		}
		if err != nil {
			return s.at("env_file", elemSeg(i)).fail(nil, "service %q: env_file %s: %s (create it, or mark it required: false)", s.name, path, oneLine(err.Error()))
		}
		for k, v := range vals {
			env[k] = v
		}
	}
	vals, err := c.values(s, []string{"environment"}, s.def["environment"])
	if err != nil {
		return err
	}
	for k, v := range vals {
		env[k] = v
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(env[k], 0) {
			return s.at("environment").fail(nil, "service %q: environment variable %q is not valid (use letters, digits and '_')", s.name, k)
		}
		p.Run.Env = append(p.Run.Env, k+"="+env[k])
	}
	return nil
}

// ports reads the short ("8080:80", "127.0.0.1:8080:80/udp") and the long
// syntax. A lone container port is published on a port the engine picks,
// as docker compose does.
func (c *composer) ports(p *Project, s *composeService) error {
	list, ok := s.def["ports"].([]any)
	if _, set := s.def["ports"]; set && !ok {
		return s.at("ports").fail(nil, "service %q: ports must be a list", s.name)
	}
	for i, e := range list {
		at := s.at("ports", elemSeg(i))
		if i == maxPorts {
			return at.fail(nil, "service %q: ports: %s", s.name, tooManyPorts)
		}
		var port runtime.Port
		switch e := e.(type) {
		case map[string]any:
			var err error
			if port, err = longPort(e); err != nil {
				return at.fail(nil, "service %q: ports: %v", s.name, err)
			}
		default:
			ps, _ := str(e)
			pt, msg := parsePort(ps)
			if msg != "" {
				return at.fail(nil, "service %q: ports: %q %s", s.name, ps, msg)
			}
			if spec, _, _ := strings.Cut(ps, "/"); !strings.Contains(spec, ":") {
				pt.HostPort = 0
			}
			port = pt
		}
		p.Run.Ports = append(p.Run.Ports, loopbackByDefault(port))
	}
	return nil
}

func longPort(m map[string]any) (runtime.Port, error) {
	p := runtime.Port{Protocol: "tcp"}
	for _, k := range sortedKeys(m) {
		v, _ := str(m[k])
		var msg string
		switch k {
		case "target":
			p.ContainerPort, msg = parsePortNumber(v)
		case "published":
			if v != "" {
				p.HostPort, msg = parsePortNumber(v)
			}
		case "host_ip":
			p.HostIP = v
		case "protocol":
			if v != "tcp" && v != "udp" {
				msg = "protocol " + v + " (use tcp or udp)"
			}
			p.Protocol = v
		case "mode", "name", "app_protocol":
		default:
			msg = fmt.Sprintf("key %q is not supported", k)
		}
		if msg != "" {
			return p, fmt.Errorf("%s: %s", k, msg)
		}
	}
	if p.ContainerPort == 0 {
		return p, fmt.Errorf("no target port")
	}
	return p, nil
}

// mounts reads volumes: the bind of the project directory is the project
// mount, other binds inside it are mounts, binds outside it need consent
// (consent.go), named volumes are the project's, anonymous ones are the
// container's, tmpfs ones are tmpfs.
func (c *composer) mounts(p *Project, s *composeService) error {
	p.Run.Mount = DefaultMount
	vols, _ := s.def["volumes"].([]any)
	project := false
	for i, e := range vols {
		at := s.at("volumes", elemSeg(i))
		v, _ := e.(map[string]any)
		target, _ := str(v["target"])
		if !strings.HasPrefix(target, "/") || filepath.Clean(target) == "/" {
			return at.fail(nil, "service %q: volume target %q must be an absolute path other than /", s.name, target)
		}
		target = filepath.Clean(target)
		src, _ := str(v["source"])
		ro, _ := boolean(v["read_only"])
		switch t, _ := v["type"].(string); {
		case t == "bind" && c.isRoot(src) && !project:
			project = true
			p.Run.Mount = target
		case t == "bind":
			g, err := c.bind(s, at, src, target)
			if err != nil {
				return err
			}
			p.Run.Mounts = append(p.Run.Mounts, runtime.Mount{Source: g.Real, Target: target, ReadOnly: ro})
			p.Run.Gates = append(p.Run.Gates, g)
		case t == "volume" && src == "":
			p.Run.Volumes = append(p.Run.Volumes, runtime.VolumeMount{Target: target})
		case t == "volume":
			if err := c.namedVolume(s, at, src); err != nil {
				return err
			}
			p.Run.Volumes = append(p.Run.Volumes, runtime.VolumeMount{Name: "hpr-" + c.name + "-" + src, Target: target})
		case t == "tmpfs":
			p.Run.Tmpfs = append(p.Run.Tmpfs, target)
		default:
			return at.fail(nil, "service %q: volume type %q is not supported by hpr (use bind, volume or tmpfs)", s.name, t)
		}
	}
	return nil
}

// namedVolume checks a named volume's name and its top-level declaration:
// hpr scopes it to the project, so only a plain declaration is supported.
func (c *composer) namedVolume(s *composeService, at origin, name string) error {
	if !validVolumeName(name) {
		return at.fail(nil, "service %q: volume name %q is not valid (start with a letter or digit, then letters, digits, '_', '.' or '-')", s.name, name)
	}
	decl, ok := c.model.volumes[name]
	if !ok {
		return at.fail(nil, "service %q uses volume %q, which the top-level volumes: does not declare (add %s: to volumes:)", s.name, name, name)
	}
	vols, _ := decl.file.doc["volumes"].(map[string]any)
	if opts, _ := vols[name].(map[string]any); len(opts) > 0 {
		return decl.fail(nil, "volume %q: %s not supported by hpr (hpr makes it hpr-%s-%s, scoped to the project; remove the options)", name, strings.Join(sortedKeys(opts), ", "), c.name, name)
	}
	return nil
}

// healthcheck reads a companion's healthcheck; nil when it has none or it
// is disabled.
func (c *composer) healthcheck(s *composeService) (*runtime.Healthcheck, error) {
	v, ok := s.def["healthcheck"]
	if !ok {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, s.at("healthcheck").fail(nil, "service %q: healthcheck must be a mapping", s.name)
	}
	h := &runtime.Healthcheck{Interval: 30 * time.Second, Timeout: 30 * time.Second, Retries: 3}
	for _, k := range sortedKeys(m) {
		at := s.at("healthcheck", k)
		switch k {
		case "disable":
			if b, _ := boolean(m[k]); b {
				return nil, nil
			}
		case "test":
			test, err := healthTest(m[k])
			if err != nil {
				return nil, at.fail(nil, "service %q: healthcheck.test %v", s.name, err)
			}
			if test == nil {
				return nil, nil
			}
			h.Test = test
		case "interval", "timeout", "start_period", "start_interval":
			ds, _ := str(m[k])
			d, err := time.ParseDuration(ds)
			if err != nil || d < 0 {
				return nil, at.fail(nil, "service %q: healthcheck.%s %q is not a duration (write e.g. 1s or 1m30s)", s.name, k, ds)
			}
			switch k {
			case "interval":
				h.Interval = d
			case "timeout":
				h.Timeout = d
			case "start_period":
				h.StartPeriod = d
			}
		case "retries":
			n, ok := m[k].(int)
			if !ok || n < 0 {
				return nil, at.fail(nil, "service %q: healthcheck.retries must be a number", s.name)
			}
			h.Retries = n
		default:
			return nil, at.fail(nil, "service %q: healthcheck key %q is not supported by hpr", s.name, k)
		}
	}
	if len(h.Test) == 0 {
		return nil, s.at("healthcheck").fail(nil, "service %q: healthcheck has no test (add test: [\"CMD\", ...])", s.name)
	}
	return h, nil
}

// healthTest turns a healthcheck test into a command; nil for NONE.
func healthTest(v any) ([]string, error) {
	if s, ok := v.(string); ok {
		return []string{"/bin/sh", "-c", s}, nil
	}
	list, ok := v.([]any)
	var words []string
	for _, e := range list {
		w, isStr := str(e)
		if !isStr {
			ok = false
		}
		words = append(words, w)
	}
	if !ok || len(words) == 0 {
		return nil, fmt.Errorf("must be a string or a list such as [\"CMD\", \"curl\", \"-f\", \"http://localhost\"]")
	}
	switch words[0] {
	case "NONE":
		return nil, nil
	case "CMD":
		if len(words) > 1 {
			return words[1:], nil
		}
	case "CMD-SHELL":
		if len(words) == 2 {
			return []string{"/bin/sh", "-c", words[1]}, nil
		}
	}
	return nil, fmt.Errorf("%q must start with CMD (then the command), CMD-SHELL (then one shell command) or NONE", words)
}

// dependency is a service the dev service needs, with what to wait for.
type dependency struct {
	svc  *composeService
	wait runtime.Condition
	at   origin
}

// dependencies are the services s depends on, transitively, dependencies
// first, each with the strongest condition any dependent waits for.
func (c *composer) dependencies(s *composeService) ([]dependency, error) {
	var order []dependency
	index := map[string]int{}
	var visit func(s *composeService, path []string) error
	visit = func(s *composeService, path []string) error {
		deps, _ := s.def["depends_on"].(map[string]any)
		for _, name := range sortedKeys(deps) {
			at := s.at("depends_on", name)
			d, err := c.dependency(s, name, deps[name], at, path)
			if err != nil || d.svc == nil {
				return err
			}
			if _, seen := index[name]; !seen {
				if err := visit(d.svc, append(path, name)); err != nil {
					return err
				}
				index[name] = len(order)
				order = append(order, d)
			}
			if i := index[name]; stronger(d.wait, order[i].wait) {
				order[i].wait, order[i].at = d.wait, d.at
			}
		}
		return nil
	}
	err := visit(s, []string{s.name})
	return order, err
}

// dependency reads one depends_on entry of s.
func (c *composer) dependency(s *composeService, name string, v any, at origin, path []string) (dependency, error) {
	m, _ := v.(map[string]any)
	d := dependency{wait: runtime.ConditionStarted, at: at}
	required := true
	for _, k := range sortedKeys(m) {
		switch k {
		case "condition":
			cond, _ := str(m[k])
			switch w := runtime.Condition(cond); w {
			case runtime.ConditionStarted, runtime.ConditionHealthy, runtime.ConditionCompleted:
				d.wait = w
			default:
				return d, at.fail([]string{k}, "service %q: depends_on.%s.condition %q is not service_started, service_healthy or service_completed_successfully", s.name, name, cond)
			}
		case "required":
			required, _ = boolean(m[k])
		case "restart":
		default:
			return d, at.fail([]string{k}, "service %q: depends_on.%s: key %q is not supported by hpr", s.name, name, k)
		}
	}
	if slices.Contains(path, name) {
		return d, at.fail(nil, "services %s depend on each other in a cycle (break it)", strings.Join(append(path, name), " → "))
	}
	svc, ok := c.model.services[name]
	switch {
	case !ok && required:
		return d, at.fail(nil, "service %q depends on %q, which the file does not define (add it, or remove the dependency)", s.name, name)
	case !ok:
		return d, nil
	case !c.enabled(svc) && required:
		return d, at.fail(nil, "service %q depends on %q, whose profiles are not active (set COMPOSE_PROFILES to one of them)", s.name, name)
	case !c.enabled(svc):
		return d, nil
	}
	d.svc = svc
	return d, nil
}

// stronger reports whether waiting for a holds more than waiting for b.
func stronger(a, b runtime.Condition) bool {
	rank := map[runtime.Condition]int{runtime.ConditionStarted: 0, runtime.ConditionHealthy: 1, runtime.ConditionCompleted: 2}
	return rank[a] > rank[b]
}
