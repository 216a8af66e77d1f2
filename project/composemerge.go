package project

import (
	"fmt"
	"slices"
	"strings"
)

// origin is where a value was written: a file and the path in it.
type origin struct {
	file *composeFile
	path []string
}

// fail is an *Error at origin o, below it by rest.
func (o origin) fail(rest []string, format string, args ...any) error {
	return o.file.fail(append(slices.Clip(o.path), rest...), format, args...)
}

// composeService is one service after files and extends are merged.
type composeService struct {
	name string
	def  map[string]any
	// origins are where each key's value was written.
	origins map[string]origin
	decl    origin
}

// at is where key (and below it, rest) was written.
func (s *composeService) at(key string, rest ...string) origin {
	if o, ok := s.origins[key]; ok {
		return origin{o.file, slices.Concat(o.path, rest)}
	}
	return s.decl
}

// composeModel is every file of a compose project, merged.
type composeModel struct {
	files    []*composeFile
	services map[string]*composeService
	// volumes are the top-level volume declarations.
	volumes map[string]origin
	name    string
	// ignored are top-level keys that change nothing for hpr (version).
	ignored []string
}

// readModel reads the files in order, each overriding the ones before, as
// docker compose -f does.
func readModel(paths []string, env *composeEnv, g fileGate) (*composeModel, error) {
	m := &composeModel{services: map[string]*composeService{}, volumes: map[string]origin{}}
	read := map[string]*composeFile{}
	for _, p := range paths {
		f, err := readComposeFile(p, env)
		if err != nil {
			return nil, err
		}
		read[p] = f
		m.files = append(m.files, f)
		if err := m.top(f); err != nil {
			return nil, err
		}
		x := &extender{env: env, read: read, gate: g}
		services, _ := f.doc["services"].(map[string]any)
		for _, name := range sortedKeys(services) {
			s, err := x.service(f, name, nil)
			if err != nil {
				return nil, err
			}
			m.merge(s)
		}
	}
	return m, nil
}

// top reads f's top-level keys other than services.
func (m *composeModel) top(f *composeFile) error {
	for _, k := range sortedKeys(f.doc) {
		v := f.doc[k]
		switch {
		case k == "services":
			if _, ok := v.(map[string]any); !ok && v != nil {
				return f.fail([]string{k}, "services must be a mapping of service names, not %s", typeName(v))
			}
		case k == "name":
			m.name, _ = str(v)
		case k == "volumes":
			vols, ok := v.(map[string]any)
			if !ok && v != nil {
				return f.fail([]string{k}, "volumes must be a mapping of volume names, not %s", typeName(v))
			}
			for name := range vols {
				m.volumes[name] = origin{f, []string{k, name}}
			}
		case k == "version":
			if !slices.Contains(m.ignored, k) {
				m.ignored = append(m.ignored, k)
			}
		case strings.HasPrefix(k, "x-"), k == "networks", k == "secrets", k == "configs":
			// Declarations only: a service using one is refused where
			// its own key is read.
		default:
			return f.fail([]string{k}, "top-level key %q is not supported by hpr (remove it, or describe the project in %s)", k, FileName)
		}
	}
	return nil
}

// merge adds s, overriding the keys an earlier file gave the service.
func (m *composeModel) merge(s *composeService) {
	old, ok := m.services[s.name]
	if !ok {
		m.services[s.name] = s
		return
	}
	old.def = mergeService(old.def, s.def)
	for k, o := range s.origins {
		old.origins[k] = o
	}
}

// extender applies extends, reading the other files it names once.
type extender struct {
	env  *composeEnv
	read map[string]*composeFile
	gate fileGate
}

// service returns service name of f with its extends applied; seen are
// the services being extended, to refuse a cycle.
func (x *extender) service(f *composeFile, name string, seen []string) (*composeService, error) {
	services, _ := f.doc["services"].(map[string]any)
	raw, ok := services[name]
	decl := origin{f, []string{"services", name}}
	if !ok {
		return nil, nil
	}
	home, _ := x.env.get("HOME")
	def, err := f.canonicalService(name, raw, home)
	if err != nil {
		return nil, err
	}
	s := &composeService{name: name, def: def, origins: map[string]origin{}, decl: decl}
	for k := range def {
		s.origins[k] = origin{f, []string{"services", name, k}}
	}
	ext, ok := def["extends"].(map[string]any)
	if !ok {
		return s, nil
	}
	delete(s.def, "extends")
	return x.extend(s, ext, seen)
}

// extend merges s over the service it extends.
func (x *extender) extend(s *composeService, ext map[string]any, seen []string) (*composeService, error) {
	at := s.at("extends")
	baseName, _ := str(ext["service"])
	baseFile := at.file
	if p, ok := ext["file"].(string); ok {
		if baseFile = x.read[p]; baseFile == nil {
			e := at.fail([]string{"file"}, "").(*Error)
			real, err := x.gate.file(p, fmt.Sprintf("service %q: extends.file %s", s.name, p), e.Path, e.Line, e.Key)
			if err != nil {
				return nil, err
			}
			f, err := readComposeFile(real, x.env)
			if err != nil {
				if e, ok := err.(*Error); ok {
					return nil, e
				}
				return nil, at.fail([]string{"file"}, "extends: %v", err)
			}
			x.read[p], baseFile = f, f
		}
	}
	key := baseFile.path + "\x00" + baseName
	if baseName == "" || slices.Contains(seen, key) {
		return nil, at.fail(nil, "service %q extends %q, which is itself or extends it (break the cycle)", s.name, baseName)
	}
	base, err := x.service(baseFile, baseName, append(seen, key))
	if err != nil {
		return nil, err
	}
	if base == nil {
		return nil, at.fail([]string{"service"}, "service %q extends %q, which %s does not define (name a service of that file)", s.name, baseName, baseFile.path)
	}
	base.name, base.decl = s.name, s.decl
	base.def = mergeService(base.def, s.def)
	for k, o := range s.origins {
		base.origins[k] = o
	}
	return base, nil
}

// mergeService returns over merged onto base, by docker compose's rules
// for the keys hpr reads: mappings merge key by key, lists of ports,
// capabilities, tmpfs, env_file and devices are appended (without
// repeats), volumes merge by target, anything else is replaced.
func mergeService(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		old, had := out[k]
		switch {
		case !had:
			out[k] = v
		case k == "build" || k == "environment" || k == "labels" || k == "depends_on" || k == "healthcheck":
			out[k] = mergeMaps(old, v)
		case k == "ports" || k == "cap_add" || k == "cap_drop" || k == "tmpfs" || k == "env_file" || k == "devices":
			out[k] = mergeList(old, v, scalarKey)
		case k == "volumes":
			out[k] = mergeList(old, v, volumeTarget)
		default:
			out[k] = v
		}
	}
	return out
}

func mergeMaps(base, over any) any {
	b, ok1 := base.(map[string]any)
	o, ok2 := over.(map[string]any)
	if !ok1 || !ok2 {
		return over
	}
	out := make(map[string]any, len(b)+len(o))
	for k, v := range b {
		out[k] = v
	}
	for k, v := range o {
		if bv, ok := out[k].(map[string]any); ok {
			out[k] = mergeMaps(bv, v)
			continue
		}
		out[k] = v
	}
	return out
}

// mergeList appends over's entries to base's; an entry whose key (not
// empty) an entry of base has replaces that one.
func mergeList(base, over any, key func(any) string) any {
	b, ok1 := base.([]any)
	o, ok2 := over.([]any)
	if !ok1 || !ok2 {
		return over
	}
	out := slices.Clone(b)
	for _, v := range o {
		k := key(v)
		if i := slices.IndexFunc(out, func(x any) bool { return k != "" && key(x) == k }); i >= 0 {
			out[i] = v
			continue
		}
		out = append(out, v)
	}
	return out
}

// scalarKey keys a list of scalars by value: merged, they do not repeat.
func scalarKey(v any) string {
	s, _ := str(v)
	return s
}

func volumeTarget(v any) string {
	m, _ := v.(map[string]any)
	t, _ := str(m["target"])
	return t
}
