package project

import (
	"fmt"
	"maps"
	"path/filepath"
	"strings"
)

// A service is put in one canonical form per file, before files and
// extends are merged, so that merging compares like with like and every
// relative path is resolved against the file that wrote it (as docker
// compose does): build is a mapping with an absolute context; environment,
// labels, build args and depends_on are mappings; env_file and volumes
// are lists of mappings with absolute host paths; extends is a mapping
// with an absolute file; tmpfs is a list.

// canonicalService returns the canonical form of service name's raw
// definition in f.
func (f *composeFile) canonicalService(name string, raw any, home string) (map[string]any, error) {
	path := []string{"services", name}
	def, ok := raw.(map[string]any)
	if raw == nil {
		def, ok = map[string]any{}, true
	}
	if !ok {
		return nil, f.fail(path, "service %q must be a mapping of keys, not %s (write %s: with its keys indented below)", name, typeName(raw), name)
	}
	out := make(map[string]any, len(def))
	for k, v := range def {
		var err error
		p := join(path, k)
		switch k {
		case "build":
			v, err = f.canonicalBuild(p, v)
		case "environment", "labels":
			v, err = f.mapping(p, v)
		case "env_file":
			v, err = f.envFiles(p, v)
		case "volumes":
			v, err = f.volumes(p, v, home)
		case "extends":
			v, err = f.extends(p, v)
		case "depends_on":
			v, err = f.dependsOn(p, v)
		case "tmpfs":
			if s, ok := v.(string); ok {
				v = []any{s}
			}
		}
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

func (f *composeFile) abs(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(f.dir, p)
}

func (f *composeFile) canonicalBuild(path []string, v any) (any, error) {
	var b map[string]any
	switch v := v.(type) {
	case string:
		b = map[string]any{"context": v}
	case map[string]any:
		b = maps.Clone(v)
	default:
		return nil, f.fail(path, "%s must be a path or a mapping, not %s (write build: . or build: {context: ., dockerfile: Dockerfile})", composeKey(path), typeName(v))
	}
	ctx, ok := str(b["context"])
	if b["context"] == nil {
		ctx, ok = ".", true
	}
	if !ok || ctx == "" || strings.Contains(ctx, "://") || strings.HasPrefix(ctx, "git@") {
		return nil, f.fail(join(path, "context"), "%s.context must be a local directory (hpr builds only local contexts; write context: .)", composeKey(path))
	}
	b["context"] = f.abs(ctx)
	if a, ok := b["args"]; ok {
		m, err := f.mapping(join(path, "args"), a)
		if err != nil {
			return nil, err
		}
		b["args"] = m
	}
	return b, nil
}

// mapping reads a mapping or a list of KEY=VALUE (a KEY alone is nil: its
// value comes from the environment).
func (f *composeFile) mapping(path []string, v any) (map[string]any, error) {
	switch v := v.(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return v, nil
	case []any:
		out := make(map[string]any, len(v))
		for i, e := range v {
			s, ok := str(e)
			if !ok {
				return nil, f.fail(join(path, elemSeg(i)), "%s must hold KEY=VALUE strings, not %s", composeKey(path), typeName(e))
			}
			k, val, has := strings.Cut(s, "=")
			if has {
				out[k] = val
			} else {
				out[k] = nil
			}
		}
		return out, nil
	}
	return nil, f.fail(path, "%s must be a mapping or a list of KEY=VALUE, not %s", composeKey(path), typeName(v))
}

func (f *composeFile) envFiles(path []string, v any) (any, error) {
	list, ok := v.([]any)
	if s, isStr := v.(string); isStr {
		list, ok = []any{s}, true
	}
	if !ok {
		return nil, f.fail(path, "%s must be a path or a list of paths, not %s", composeKey(path), typeName(v))
	}
	out := make([]any, 0, len(list))
	for i, e := range list {
		ef := map[string]any{"required": true}
		switch e := e.(type) {
		case string:
			ef["path"] = e
		case map[string]any:
			maps.Copy(ef, e)
		default:
			return nil, f.fail(join(path, elemSeg(i)), "%s entries must be paths or {path: ..., required: ...}, not %s", composeKey(path), typeName(e))
		}
		p, ok := str(ef["path"])
		if !ok || p == "" {
			return nil, f.fail(join(path, elemSeg(i)), "%s entry has no path", composeKey(path))
		}
		ef["path"] = f.abs(p)
		out = append(out, ef)
	}
	return out, nil
}

func (f *composeFile) extends(path []string, v any) (any, error) {
	switch v := v.(type) {
	case string:
		return map[string]any{"service": v}, nil
	case map[string]any:
		out := map[string]any{"service": v["service"]}
		if file, ok := v["file"]; ok {
			s, ok := str(file)
			if !ok {
				return nil, f.fail(join(path, "file"), "%s.file must be a path", composeKey(path))
			}
			out["file"] = f.abs(s)
		}
		for k := range v {
			if k != "service" && k != "file" {
				return nil, f.fail(join(path, k), "%s: key %q is not supported (write extends: {service: NAME, file: PATH})", composeKey(path), k)
			}
		}
		return out, nil
	}
	return nil, f.fail(path, "%s must be a service name or {service: NAME, file: PATH}, not %s", composeKey(path), typeName(v))
}

func (f *composeFile) dependsOn(path []string, v any) (any, error) {
	out := map[string]any{}
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, f.fail(join(path, elemSeg(i)), "%s must list service names, not %s", composeKey(path), typeName(e))
			}
			out[s] = map[string]any{"condition": "service_started"}
		}
	case map[string]any:
		for k, e := range v {
			d, ok := e.(map[string]any)
			if e == nil {
				d, ok = map[string]any{}, true
			}
			if !ok {
				return nil, f.fail(join(path, k), "%s.%s must be a mapping such as {condition: service_healthy}, not %s", composeKey(path), k, typeName(e))
			}
			out[k] = d
		}
	default:
		return nil, f.fail(path, "%s must be a list of services or a mapping, not %s", composeKey(path), typeName(v))
	}
	return out, nil
}

// volumes turns short volume syntax ("SRC:DST[:MODE]", "DST") into the
// long one, with bind sources absolute.
func (f *composeFile) volumes(path []string, v any, home string) (any, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, f.fail(path, "%s must be a list, not %s", composeKey(path), typeName(v))
	}
	out := make([]any, 0, len(list))
	for i, e := range list {
		p := join(path, elemSeg(i))
		var vol map[string]any
		switch e := e.(type) {
		case string:
			var err string
			if vol, err = shortVolume(e); err != "" {
				return nil, f.fail(p, "%s: %q %s", composeKey(path), e, err)
			}
			vol["short"] = e
		case map[string]any:
			vol = maps.Clone(e)
		default:
			return nil, f.fail(p, "%s entries must be strings or mappings, not %s", composeKey(path), typeName(e))
		}
		if t, _ := vol["type"].(string); t == "bind" {
			src, _ := str(vol["source"])
			if src == "~" || strings.HasPrefix(src, "~/") {
				src = home + src[1:]
			}
			vol["source"] = f.abs(src)
		}
		out = append(out, vol)
	}
	return out, nil
}

// shortVolume parses "SRC:DST[:MODE]" or "DST" as docker compose does: a
// source that is a path (., /, ~) is a bind, another a named volume, none
// an anonymous volume.
func shortVolume(s string) (map[string]any, string) {
	parts := strings.Split(s, ":")
	v := map[string]any{}
	switch len(parts) {
	case 1:
		v["type"], v["target"] = "volume", parts[0]
		return v, ""
	case 2, 3:
		v["source"], v["target"] = parts[0], parts[1]
	default:
		return nil, "is not SRC:DST[:MODE] (write e.g. \".:/app\" or \"data:/var/lib/data\")"
	}
	if src := parts[0]; strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") || strings.HasPrefix(src, "~") {
		v["type"] = "bind"
	} else {
		v["type"] = "volume"
	}
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro":
				v["read_only"] = true
			case "rw", "z", "Z", "cached", "delegated", "consistent", "nocopy":
			default:
				return nil, fmt.Sprintf("has mode %q (hpr supports ro and rw)", o)
			}
		}
	}
	return v, ""
}
