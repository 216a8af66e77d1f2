package project

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/project/hostpath"
	"github.com/hostpersist/hpr/runtime"
	"github.com/mattn/go-shellwords"
)

// serviceKeys are the service keys hpr reads, each handled by fill.
var serviceKeys = []string{
	"build", "image", "command", "entrypoint", "working_dir", "environment", "env_file",
	"ports", "volumes", "tmpfs", "tty", "stdin_open", "cap_add", "cap_drop", "labels",
	"user", "depends_on", "healthcheck", "profiles",
	// Host access, refused unless the user allows it (consent.go).
	"privileged", "network_mode", "pid", "ipc", "devices",
}

// ignoredKeys change nothing for a dev run: hpr names its containers,
// removes them when the run ends, and every port is reachable on the
// run's network.
var ignoredKeys = []string{"container_name", "restart", "expose"}

// composer turns a compose model into a Project.
type composer struct {
	model    *composeModel
	env      *composeEnv
	opts     ComposeOptions
	root     string
	realRoot string
	hroot    hostpath.Root
	name     string
	notes    []string
}

// project returns the dev service's project, with its dependencies as
// companions.
func (c *composer) project() (*Project, error) {
	c.name = c.projectName()
	dev, err := c.devService()
	if err != nil {
		return nil, err
	}
	p := &Project{Root: c.root, RealRoot: c.realRoot, Name: c.name, Service: dev.name}
	if err := c.fill(p, dev, true); err != nil {
		return nil, err
	}
	deps, err := c.dependencies(dev)
	if err != nil {
		return nil, err
	}
	for _, d := range deps {
		cp := &Project{Root: c.root, RealRoot: c.realRoot, Name: sanitizeName(c.name + "-" + d.svc.name), Service: d.svc.name}
		if err := c.fill(cp, d.svc, false); err != nil {
			return nil, err
		}
		comp := Companion{Name: d.svc.name, Project: cp, Wait: d.wait}
		if comp.Health, err = c.healthcheck(d.svc); err != nil {
			return nil, err
		}
		if comp.Wait == runtime.ConditionHealthy && comp.Health == nil {
			return nil, d.at.fail(nil, "service %q waits for %s to be healthy, but %s has no healthcheck (add one to %s, or use condition: service_started)", dev.name, d.svc.name, d.svc.name, d.svc.name)
		}
		p.Companions = append(p.Companions, comp)
	}
	p.IDOverrides = c.env.given
	p.Warnings = append(p.Warnings, c.warnings()...)
	return p, nil
}

func (c *composer) projectName() string {
	n := c.model.name
	if v, ok := c.env.get("COMPOSE_PROJECT_NAME"); ok && v != "" {
		n = v
	}
	if n == "" {
		n = filepath.Base(c.realRoot)
	}
	if validName(n) {
		return n
	}
	return sanitizeName(n)
}

// warnings are the notes for the user: ignored keys, unset variables.
func (c *composer) warnings() []string {
	var out []string
	file := c.model.files[0].path
	if len(c.model.ignored) > 0 {
		out = append(out, fmt.Sprintf("%s: %s ignored (it changes nothing for hpr)", file, strings.Join(c.model.ignored, ", ")))
	}
	out = append(out, c.notes...)
	var unset []string
	for _, u := range c.env.unset {
		if !slices.Contains(unset, u) {
			unset = append(unset, u)
		}
	}
	if len(unset) > 0 {
		out = append(out, fmt.Sprintf("%s: variable %s not set: empty string used (set it in your environment or in %s)", file, strings.Join(unset, ", "), c.env.dotenvPath))
	}
	return out
}

// enabled reports whether a service's profiles are active (COMPOSE_PROFILES);
// a service without profiles always is.
func (c *composer) enabled(s *composeService) bool {
	profiles, _ := s.def["profiles"].([]any)
	if len(profiles) == 0 {
		return true
	}
	active, _ := c.env.get("COMPOSE_PROFILES")
	for _, p := range profiles {
		ps, _ := str(p)
		if slices.Contains(strings.Split(active, ","), ps) || slices.Contains(strings.Split(active, ","), "*") {
			return true
		}
	}
	return false
}

// devService is the service hpr runs: the one named, or the one enabled
// service that bind-mounts the project directory.
func (c *composer) devService() (*composeService, error) {
	file := c.model.files[0]
	names := slices.Sorted(maps.Keys(c.model.services))
	if len(names) == 0 {
		return nil, file.fail([]string{"services"}, "no services (add the service to run under services:)")
	}
	if n := c.opts.Service; n != "" {
		s, ok := c.model.services[n]
		if !ok {
			return nil, file.fail([]string{"services"}, "no service %q (services: %s)", n, strings.Join(names, ", "))
		}
		return s, nil
	}
	var cands, enabled []string
	for _, n := range names {
		s := c.model.services[n]
		if !c.enabled(s) {
			continue
		}
		enabled = append(enabled, n)
		if c.bindsRoot(s) {
			cands = append(cands, n)
		}
	}
	switch {
	case len(cands) == 1:
		return c.model.services[cands[0]], nil
	case len(cands) > 1:
		return nil, file.fail([]string{"services"}, "services %s all bind-mount the project directory (volumes): choose the one to run with --service NAME, or service = \"NAME\" under [compose] in %s", strings.Join(cands, ", "), FileName)
	case len(enabled) == 1:
		return c.model.services[enabled[0]], nil
	}
	return nil, file.fail([]string{"services"}, "no service bind-mounts the project directory (volumes: [\".:/app\"]), so hpr cannot tell which to run (services: %s): add the bind, or choose one with --service NAME", strings.Join(enabled, ", "))
}

// bindsRoot reports whether s bind-mounts the project directory.
func (c *composer) bindsRoot(s *composeService) bool {
	vols, _ := s.def["volumes"].([]any)
	for _, v := range vols {
		if m, ok := v.(map[string]any); ok && m["type"] == "bind" && c.isRoot(m["source"]) {
			return true
		}
	}
	return false
}

func (c *composer) isRoot(src any) bool {
	s, _ := src.(string)
	if s == "" {
		return false
	}
	if filepath.Clean(s) == filepath.Clean(c.root) {
		return true
	}
	real, err := filepath.EvalSymlinks(s)
	return err == nil && real == c.realRoot
}

// fill sets p's image and run settings from service s; dev is the service
// hpr runs (the others are its companions).
func (c *composer) fill(p *Project, s *composeService, dev bool) error {
	var ignored []string
	for _, k := range sortedKeys(s.def) {
		switch {
		case slices.Contains(serviceKeys, k), strings.HasPrefix(k, "x-"):
		case slices.Contains(ignoredKeys, k):
			ignored = append(ignored, k)
		default:
			return s.at(k).fail(nil, "service %q: key %q is not supported by hpr (remove it, or describe the service in %s)", s.name, k, FileName)
		}
	}
	if len(ignored) > 0 {
		c.notes = append(c.notes, fmt.Sprintf("%s: service %s: %s ignored (hpr names and removes its containers itself)", s.decl.file.path, s.name, strings.Join(ignored, ", ")))
	}
	if dev {
		if _, ok := s.def["healthcheck"]; ok {
			c.notes = append(c.notes, fmt.Sprintf("%s: service %s: healthcheck ignored (nothing waits for the service hpr runs)", s.decl.file.path, s.name))
		}
	}
	p.Run.User = idmap.OverrideAuto
	for _, step := range []func(*Project, *composeService) error{
		c.image, c.commands, c.environment, c.ports, c.mounts, c.tmpfs, c.terminal,
		c.capabilities, c.labels, c.user, c.hostAccess,
	} {
		if err := step(p, s); err != nil {
			return err
		}
	}
	if !dev && !c.bindsRoot(s) {
		p.Run.Mount = "" // a companion that does not mount the project is not remapped
	}
	return c.workingDir(p, s)
}

func (c *composer) image(p *Project, s *composeService) error {
	if ref, ok := s.def["image"]; ok {
		r, isStr := ref.(string)
		if !isStr || r == "" || strings.ContainsFunc(r, func(c rune) bool { return c <= ' ' }) {
			return s.at("image").fail(nil, "service %q: image must be an image reference such as debian:bookworm-slim", s.name)
		}
		p.Image.Ref = r
	}
	b, ok := s.def["build"].(map[string]any)
	if !ok {
		if p.Image.Ref == "" {
			return s.decl.fail(nil, "service %q has neither image nor build (add one)", s.name)
		}
		return nil
	}
	p.Image.Ref = "" // hpr tags what it builds itself
	for _, k := range sortedKeys(b) {
		if !slices.Contains([]string{"context", "dockerfile", "args", "target"}, k) {
			return s.at("build", k).fail(nil, "service %q: build key %q is not supported by hpr (hpr reads context, dockerfile, args and target)", s.name, k)
		}
	}
	ctx, _ := b["context"].(string)
	real, err := c.read(s.at("build", "context"), ctx, fmt.Sprintf("service %q: build.context %s", s.name, ctx))
	if err != nil {
		return err
	}
	p.Image.BuildContext = real
	df := "Dockerfile"
	if v, ok := b["dockerfile"]; ok {
		if df, ok = str(v); !ok || df == "" {
			return s.at("build", "dockerfile").fail(nil, "service %q: build.dockerfile must be a path", s.name)
		}
	}
	dfPath := df
	if !filepath.IsAbs(df) {
		dfPath = filepath.Join(p.Image.BuildContext, df)
	}
	if p.Image.Dockerfile, err = c.read(s.at("build", "dockerfile"), dfPath, fmt.Sprintf("service %q: build.dockerfile %s", s.name, df)); err != nil {
		return err
	}
	if _, inside := below(p.Image.BuildContext, p.Image.Dockerfile); !inside {
		return s.at("build", "dockerfile").fail(nil, "service %q: build.dockerfile %q is outside the build context (move it into the context)", s.name, df)
	}
	if t, ok := b["target"]; ok {
		p.Image.Target, _ = str(t)
	}
	args, err := c.values(s, []string{"build", "args"}, b["args"])
	if err != nil {
		return err
	}
	if len(args) > 0 {
		p.Image.Args = args
	}
	return nil
}

// values reads a canonical mapping of strings; a nil value is taken from
// the environment (and dropped when unset), as docker compose does.
func (c *composer) values(s *composeService, key []string, v any) (map[string]string, error) {
	m, _ := v.(map[string]any)
	out := make(map[string]string, len(m))
	for _, k := range sortedKeys(m) {
		if m[k] == nil {
			if val, ok := c.env.get(k); ok {
				out[k] = val
			}
			continue
		}
		val, ok := str(m[k])
		if !ok {
			return nil, s.at(key[0], append(key[1:], k)...).fail(nil, "service %q: %s.%s must be a string, not %s", s.name, strings.Join(key, "."), k, typeName(m[k]))
		}
		out[k] = val
	}
	return out, nil
}

func (c *composer) commands(p *Project, s *composeService) error {
	for _, k := range []string{"command", "entrypoint"} {
		v, ok := s.def[k]
		if !ok || v == nil {
			continue
		}
		var argv []string
		switch v := v.(type) {
		case string:
			words, err := shellwords.Parse(v)
			if err != nil {
				return s.at(k).fail(nil, "service %q: %s %q: %v (fix the quoting, or write a list)", s.name, k, v, err)
			}
			argv = words
		case []any:
			argv = []string{}
			for i, e := range v {
				a, ok := str(e)
				if !ok {
					return s.at(k, elemSeg(i)).fail(nil, "service %q: %s must hold strings, not %s", s.name, k, typeName(e))
				}
				argv = append(argv, a)
			}
		default:
			return s.at(k).fail(nil, "service %q: %s must be a string or a list, not %s", s.name, k, typeName(v))
		}
		if k == "command" {
			p.Run.Command = argv
		} else {
			p.Run.Entrypoint = argv
		}
	}
	return nil
}

func (c *composer) workingDir(p *Project, s *composeService) error {
	v, ok := s.def["working_dir"]
	if !ok {
		return nil
	}
	wd, _ := str(v)
	if !strings.HasPrefix(wd, "/") {
		return s.at("working_dir").fail(nil, "service %q: working_dir %q must be an absolute path", s.name, wd)
	}
	if wd != p.Run.Mount {
		p.Run.WorkDir = filepath.Clean(wd)
	}
	return nil
}

func (c *composer) terminal(p *Project, s *composeService) error {
	for _, k := range []string{"tty", "stdin_open"} {
		v, ok := s.def[k]
		if !ok {
			continue
		}
		b, ok := boolean(v)
		if !ok {
			return s.at(k).fail(nil, "service %q: %s must be true or false", s.name, k)
		}
		if k == "tty" {
			p.Run.NoTTY = !b
		} else {
			p.Run.NoStdin = !b
		}
	}
	return nil
}

func (c *composer) capabilities(p *Project, s *composeService) error {
	read := func(k string) ([]string, error) {
		list, _ := s.def[k].([]any)
		var out []string
		for i, e := range list {
			cs, _ := str(e)
			cp, msg := normalizeCap(cs)
			if msg != "" {
				return nil, s.at(k, elemSeg(i)).fail(nil, "service %q: %s: %q %s", s.name, k, cs, msg)
			}
			if !slices.Contains(out, cp) {
				out = append(out, cp)
			}
		}
		return out, nil
	}
	var err error
	if p.Run.CapAdd, err = read("cap_add"); err != nil {
		return err
	}
	if p.Run.CapDrop, err = read("cap_drop"); err != nil {
		return err
	}
	if _, set := s.def["cap_drop"]; !set {
		p.Run.CapDrop = defaultCapDrop(p.Run.CapAdd)
	}
	return nil
}

func (c *composer) labels(p *Project, s *composeService) error {
	labels, err := c.values(s, []string{"labels"}, s.def["labels"])
	if err != nil {
		return err
	}
	for k := range labels {
		if strings.HasPrefix(k, "io.hpr.") {
			return s.at("labels", k).fail(nil, "service %q: label %q is hpr's own (rename it)", s.name, k)
		}
	}
	if len(labels) > 0 {
		p.Run.Labels = labels
	}
	return nil
}

// user reads user: ${UID}:${GID} (or ${UID}) is hpr's mapping; root is
// root; any other value is run as written, as [run] user = "image" runs
// the image's USER.
func (c *composer) user(p *Project, s *composeService) error {
	v, ok := s.def["user"]
	if !ok {
		return nil
	}
	u, _ := str(v)
	uid, gid, _ := strings.Cut(u, ":")
	switch {
	case u == "":
		return s.at("user").fail(nil, "service %q: user is empty (remove it, or write user: \"${UID}:${GID}\")", s.name)
	case uid == markUID && (gid == "" || gid == markGID):
		p.Run.User = idmap.OverrideAuto
		p.Run.UserSpec = u
	case hasMarker(u):
		return s.at("user").fail(nil, "service %q: user %q mixes ${UID}/${GID} with other ids (write user: \"${UID}:${GID}\")", s.name, u)
	case u == "root" || u == "0" || u == "0:0":
		p.Run.User = idmap.OverrideRoot
	default:
		p.Run.User = idmap.OverrideImage
		p.Run.UserSpec = u
	}
	return nil
}

func (c *composer) tmpfs(p *Project, s *composeService) error {
	list, _ := s.def["tmpfs"].([]any)
	for i, e := range list {
		t, _ := str(e)
		t, _, _ = strings.Cut(t, ":") // size= and mode= options: the default is enough for a dev run
		if !strings.HasPrefix(t, "/") {
			return s.at("tmpfs", elemSeg(i)).fail(nil, "service %q: tmpfs %q must be an absolute path", s.name, t)
		}
		p.Run.Tmpfs = append(p.Run.Tmpfs, filepath.Clean(t))
	}
	return nil
}

// ExpandIDs replaces the UID and GID markers a compose file's ${UID} and
// ${GID} left in s with uid and gid.
func ExpandIDs(s string, uid, gid int) string {
	if !hasMarker(s) {
		return s
	}
	return strings.NewReplacer(markUID, fmt.Sprint(uid), markGID, fmt.Sprint(gid)).Replace(s)
}
