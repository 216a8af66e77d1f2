package project

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/template"
	"gopkg.in/yaml.v3"

	"github.com/hostpersist/hpr/project/hostpath"
)

// A compose file is read with compose-go's own interpolation (template)
// and .env parser (dotenv), but not with its loader: the loader brings a
// JSON-schema validator, a second YAML library and mapstructure, which
// would take hpr's binary over its size budget (BENCHMARKS.md, measure
// 5). The YAML is decoded with gopkg.in/yaml.v3, which the binary
// already holds; hpr reads only the keys it supports and refuses the rest,
// so it needs no schema of its own.

// The UID and GID variables interpolate to these markers. They stay in the
// model until the resolver knows the engine and replaces them with the
// plan's container-side ids (ExpandIDs): what the seed's ${UID}/${GID}
// meant, whatever the shell or .env say.
const (
	markUID = "\uE000UID\uE001"
	markGID = "\uE000GID\uE001"
)

// hasMarker reports whether s holds a UID or GID marker.
func hasMarker(s string) bool { return strings.Contains(s, "\uE000") }

// composeEnv is what a compose file is interpolated with: the process's
// environment, then the project's .env.
type composeEnv struct {
	lookup     func(string) (string, bool)
	dotenv     map[string]string
	dotenvPath string
	// given are the values the environment or .env gave UID and GID
	// where the file used them.
	given []IDOverride
	// unset are the variables used unset, with where first.
	unset []string
}

// fileGate is the gate (gate.go) for the files a compose project makes
// hpr read: .env, extends files.
type fileGate struct {
	root  hostpath.Root
	allow []string
}

// file returns the real path of p, or the refusal at (path, line).
func (g fileGate) file(p, name, at string, line int, key string) (string, error) {
	return readable(g.root, p, name, g.allow, Error{Path: at, Line: line, Key: key})
}

func newComposeEnv(dir string, lookup func(string) (string, bool), g fileGate) (*composeEnv, error) {
	e := &composeEnv{lookup: lookup, dotenvPath: filepath.Join(dir, ".env")}
	if _, err := os.Lstat(e.dotenvPath); err != nil {
		return e, nil
	}
	real, err := g.file(e.dotenvPath, ".env", e.dotenvPath, 0, "")
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(real)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return e, nil
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", e.dotenvPath, err)
	case fi.IsDir():
		return e, nil
	}
	// Variables in .env may use the process's environment; the markers
	// are not for .env itself.
	e.dotenv, err = readDotenv(real, lookup)
	var limit *Error
	if errors.As(err, &limit) {
		return nil, err
	}
	if err != nil {
		return nil, &Error{Path: e.dotenvPath, Msg: oneLine(err.Error()) + " (fix the line; see https://docs.docker.com/compose/environment-variables/variable-interpolation/)"}
	}
	return e, nil
}

// get is a variable's value: the process's environment wins over .env.
func (e *composeEnv) get(k string) (string, bool) {
	if v, ok := e.lookup(k); ok {
		return v, true
	}
	v, ok := e.dotenv[k]
	return v, ok
}

// source says where get found k.
func (e *composeEnv) source(k string) string {
	if _, ok := e.lookup(k); ok {
		return "your environment"
	}
	return e.dotenvPath
}

// interpolated is get for the file's ${...}: UID and GID are markers.
func (e *composeEnv) interpolated(k string) (string, bool) {
	var mark string
	switch k {
	case "UID":
		mark = markUID
	case "GID":
		mark = markGID
	default:
		return e.get(k)
	}
	if v, ok := e.get(k); ok && !slices.ContainsFunc(e.given, func(o IDOverride) bool { return o.Name == k }) {
		e.given = append(e.given, IDOverride{Name: k, Value: v, Source: e.source(k)})
	}
	return mark, true
}

// composeFile is one compose file, decoded and interpolated.
type composeFile struct {
	path string
	dir  string
	doc  map[string]any
	// lines maps posKey(path) of every key and list element to its line.
	lines map[string]int
	// expanded counts the bytes its variables expanded to.
	expanded budget
}

// line is where path is, or its nearest located parent; 0 when unknown.
func (f *composeFile) line(path []string) int {
	for n := len(path); n > 0; n-- {
		if l, ok := f.lines[posKey(path[:n])]; ok {
			return l
		}
	}
	return 0
}

// fail is an *Error at path in f.
func (f *composeFile) fail(path []string, format string, args ...any) error {
	return &Error{Path: f.path, Line: f.line(path), Key: composeKey(path), Msg: fmt.Sprintf(format, args...)}
}

// composeKey names path for a message: services.web.ports[1].
func composeKey(path []string) string {
	var b strings.Builder
	for _, s := range path {
		if strings.HasPrefix(s, "\x01") {
			b.WriteString("[" + s[1:] + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// readComposeFile reads, decodes and interpolates one compose file.
func readComposeFile(path string, env *composeEnv) (*composeFile, error) {
	// The name comes from an untrusted hpr.toml or COMPOSE_FILE.
	data, err := readProjectFile(path, "a compose file")
	var limit *Error
	if errors.As(err, &limit) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("loading compose file: %w", err)
	}
	f := &composeFile{path: path, dir: filepath.Dir(path), lines: map[string]int{}}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(path, err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, &Error{Path: path, Line: max(root.Line, 1), Msg: "the file is not a mapping of compose keys (write services: at the top)"}
	}
	if deep := tooDeepNode(root.Content[0], 1); deep != nil {
		return nil, &Error{Path: path, Line: deep.Line, Col: deep.Column, Msg: fmt.Sprintf("mappings and lists nest more than %d deep (flatten them)", maxNesting)}
	}
	f.record(root.Content[0], nil)
	var raw any
	if err := root.Content[0].Decode(&raw); err != nil {
		return nil, &Error{Path: path, Msg: "invalid YAML: " + oneLine(err.Error()) + " (fix the syntax)"}
	}
	doc, err := f.normalize(raw, nil)
	if err != nil {
		return nil, err
	}
	out, err := f.interpolate(doc, nil, env)
	if err != nil {
		return nil, err
	}
	f.doc = out.(map[string]any)
	return f, nil
}

// yamlError is the parser's "yaml: line N: what" as an *Error at line N.
func yamlError(path string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{Path: path}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(n); err == nil {
				e.Line, msg = line, after
			}
		}
	}
	e.Msg = "invalid YAML: " + oneLine(msg) + " (fix the syntax)"
	return e
}

// record remembers the line of every key and list element under n.
func (f *composeFile) record(n *yaml.Node, path []string) {
	if len(path) > maxDepth {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := join(path, n.Content[i].Value)
			f.lines[posKey(k)] = n.Content[i].Line
			f.record(n.Content[i+1], k)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			e := join(path, elemSeg(i))
			f.lines[posKey(e)] = c.Line
			f.record(c, e)
		}
	}
}

// normalize gives every mapping string keys and every scalar a type the
// mapping code knows (string, int, float64, bool, nil).
func (f *composeFile) normalize(v any, path []string) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			n, err := f.normalize(e, join(path, k))
			if err != nil {
				return nil, err
			}
			v[k] = n
		}
		return v, nil
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			var ks string
			switch k := k.(type) {
			case string:
				ks = k
			case int, bool, float64:
				ks = fmt.Sprint(k)
			default:
				return nil, f.fail(path, "%s has a key that is not a string (%v) (quote the key)", composeKey(path), k)
			}
			n, err := f.normalize(e, join(path, ks))
			if err != nil {
				return nil, err
			}
			out[ks] = n
		}
		return out, nil
	case []any:
		for i, e := range v {
			n, err := f.normalize(e, join(path, elemSeg(i)))
			if err != nil {
				return nil, err
			}
			v[i] = n
		}
		return v, nil
	case time.Time:
		return v.Format(time.RFC3339Nano), nil
	case uint64:
		return float64(v), nil
	case int64:
		return int(v), nil
	}
	return v, nil
}

// interpolate replaces ${VAR} in every string value, as docker compose
// does, with compose-go's template; keys are left alone.
func (f *composeFile) interpolate(v any, path []string, env *composeEnv) (any, error) {
	switch v := v.(type) {
	case string:
		return f.substitute(v, path, env)
	case map[string]any:
		out := make(map[string]any, len(v))
		for _, k := range sortedKeys(v) {
			n, err := f.interpolate(v[k], join(path, k), env)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			n, err := f.interpolate(e, join(path, elemSeg(i)), env)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	}
	return v, nil
}

func (f *composeFile) substitute(s string, path []string, env *composeEnv) (string, error) {
	if tooDeepAt(s) >= 0 {
		return "", f.fail(path, "%s %s", composeKey(path), tooDeep)
	}
	var missed string
	over := false
	mapping := func(k string) (string, bool) {
		v, ok := env.interpolated(k)
		if !ok {
			missed = k
		}
		if over = over || !f.expanded.spend(len(v)); over {
			return "", true
		}
		return v, ok
	}
	// The replacement function is compose-go's own; wrapping it tells
	// when a plain ${VAR} was unset, which compose-go would log.
	out, err := template.SubstituteWithOptions(s, mapping, template.WithoutLogging,
		template.WithReplacementFunction(func(sub string, m template.Mapping, cfg *template.Config) (string, error) {
			missed = ""
			v, found, err := template.DefaultReplacementAppliedFunc(sub, m, cfg)
			if err == nil && !found && missed != "" {
				env.unset = append(env.unset, fmt.Sprintf("%s (%s)", missed, composeKey(path)))
			}
			return v, err
		}))
	if err != nil {
		var req *template.MissingRequiredError
		if errors.As(err, &req) {
			return "", f.fail(path, "%s: required variable %s is not set: %s (set it in your environment or in %s)", composeKey(path), req.Variable, req.Reason, env.dotenvPath)
		}
		return "", f.fail(path, "%s: %s (write ${VAR}, ${VAR:-default}, or $$ for a literal $)", composeKey(path), oneLine(err.Error()))
	}
	if over {
		return "", f.fail(path, "%s: %s", composeKey(path), tooLarge)
	}
	return out, nil
}

// str is a scalar as a string: compose accepts numbers and booleans where
// it wants strings.
func str(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case int:
		return strconv.Itoa(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// boolean reads a compose boolean: true, false, or their strings (which an
// interpolated value is).
func boolean(v any) (bool, bool) {
	switch v := v.(type) {
	case bool:
		return v, true
	case string:
		b, err := strconv.ParseBool(v)
		return b, err == nil
	}
	return false, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
