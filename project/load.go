package project

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/project/hostpath"
	"github.com/hostpersist/hpr/runtime"
)

// The file is decoded into a generic map, not into structs, and unknown keys
// are found by walking MetaData.Keys() against the schema rather than with
// MetaData.Undecoded(): toml v1.6.0 matches struct fields case-insensitively
// (NAME = "x" would silently set name) and silently skips a non-table value
// bound for a map field (args = "x"). Walking the generic map is exact and
// lets every type error name its key and line.

type kind int

const (
	kindTable kind = iota
	kindString
	kindList // list of strings
	kindMap  // table of strings
)

// field is one key of the schema.
type field struct {
	name string
	kind kind
	// example is the fix shown when the value has the wrong type.
	example string
	// fields are a table's keys, in documentation order.
	fields []*field
}

func (f *field) child(name string) *field {
	for _, c := range f.fields {
		if c.name == name {
			return c
		}
	}
	return nil
}

// schema is hpr.toml v1.
var schema = &field{kind: kindTable, fields: []*field{
	{name: "name", kind: kindString, example: `name = "blog"`},
	{name: "engine", kind: kindTable, fields: []*field{
		{name: "prefer", kind: kindString, example: `prefer = "auto", "docker" or "podman"`},
		{name: "endpoint", kind: kindString, example: `endpoint = "unix:///run/user/1000/podman/podman.sock"`},
		{name: "remote_root", kind: kindString, example: `remote_root = "/home/me/src/blog"`},
	}},
	{name: "image", kind: kindTable, fields: []*field{
		{name: "ref", kind: kindString, example: `ref = "debian:bookworm-slim"`},
		{name: "build", kind: kindString, example: `build = "."`},
		{name: "dockerfile", kind: kindString, example: `dockerfile = "Dockerfile"`},
		{name: "args", kind: kindMap, example: `args = { JEKYLL_ENV = "development" }`},
	}},
	{name: "run", kind: kindTable, fields: []*field{
		{name: "command", kind: kindList, example: `command = ["jekyll", "serve"]`},
		{name: "entrypoint", kind: kindList, example: `entrypoint = ["/bin/sh", "-c"]`},
		{name: "mount", kind: kindString, example: `mount = "/app"`},
		{name: "ports", kind: kindList, example: `ports = ["5000:5000"]`},
		{name: "env", kind: kindMap, example: `env = { TZ = "UTC" }`},
		{name: "volumes", kind: kindList, example: `volumes = ["bundle:/usr/local/bundle"]`},
		{name: "user", kind: kindString, example: `user = "auto", "root" or "image"`},
		{name: "cap_drop", kind: kindList, example: `cap_drop = ["ALL"]`},
		{name: "cap_add", kind: kindList, example: `cap_add = ["NET_BIND_SERVICE"]`},
		{name: "selinux", kind: kindString, example: `selinux = "disable", "shared" or "private"`},
	}},
	{name: "compose", kind: kindTable, fields: []*field{
		{name: "file", kind: kindString, example: `file = "docker-compose.yml"`},
		{name: "service", kind: kindString, example: `service = "web"`},
		{name: "allow", kind: kindList, example: `allow = ["bind:/var/run/docker.sock"]`},
	}},
}}

// loader turns the text of one hpr.toml into a Project.
type loader struct {
	path string // as given, for messages
	dir  string // absolute directory of the file
	name string // the default project name
	src  string
	// compose are the options of the compose file [compose] names; its
	// Allow is what the user granted (--allow).
	compose ComposeOptions
	// root is the project directory, for the gate (gate.go).
	root hostpath.Root
	doc  map[string]any
	pos  map[string]pos // computed on the first error
	errs []*Error
}

// load returns the project, or the first error in the file (or in the
// compose file it names).
func (l *loader) load() (*Project, error) {
	md, e := l.decode()
	if e != nil {
		return nil, e
	}
	l.checkKeys(md.Keys())
	l.checkTypes(schema, l.doc, nil)
	if e := l.first(); e != nil {
		return nil, e
	}
	base, err := l.composeBase()
	if err != nil {
		return nil, err
	}
	p := l.project(base)
	if e := l.first(); e != nil {
		return nil, e
	}
	return p, nil
}

// composeBase loads the compose file [compose] file names, the project
// hpr.toml's keys then override; nil when there is none.
func (l *loader) composeBase() (*Project, error) {
	file, ok := l.str("compose", "file")
	svc, hasSvc := l.str("compose", "service")
	allow, _ := l.list("compose", "allow")
	if !ok {
		for _, k := range []string{"service", "allow"} {
			if _, set := l.get("compose", k); set {
				l.fail([]string{"compose", k}, "[compose] %s needs file (add file = \"docker-compose.yml\")", k)
			}
		}
		if e := l.first(); e != nil {
			return nil, e
		}
		return nil, nil
	}
	if file == "" {
		l.fail([]string{"compose", "file"}, "[compose] file is empty (name the compose file, e.g. file = \"docker-compose.yml\")")
		return nil, l.first()
	}
	o := l.compose
	if hasSvc && o.Service == "" {
		o.Service = svc
	}
	o.Allow = append(slices.Clip(allow), o.Allow...)
	o.Root = l.dir
	if !filepath.IsAbs(file) {
		file = filepath.Join(l.dir, file)
	}
	real, ok := l.gated([]string{"compose", "file"}, file, "[compose] file "+file)
	if !ok {
		return nil, l.first()
	}
	p, err := LoadCompose([]string{real}, o)
	if p != nil {
		p.Path = file
	}
	return p, err
}

func (l *loader) decode() (md toml.MetaData, e *Error) {
	// The parser is third-party code fed arbitrary text; a panic in it
	// must not take hpr down.
	defer func() {
		if r := recover(); r != nil {
			e = &Error{Path: l.path, Msg: fmt.Sprintf("the TOML parser failed: %v (simplify the file and report this)", r)}
		}
	}()
	// The decoder recurses once per bracket: past Go's stack it is a
	// fatal error, which no recover catches.
	if line, col := tomlNesting(l.src); line > 0 {
		return md, &Error{Path: l.path, Line: line, Col: col, Msg: fmt.Sprintf("arrays and inline tables nest more than %d deep (flatten them)", maxNesting)}
	}
	md, err := toml.Decode(l.src, &l.doc)
	if err == nil {
		return md, nil
	}
	var pe toml.ParseError
	if errors.As(err, &pe) {
		line, col := pe.Position.Line, pe.Position.Col
		// At the end of the input v1.6.0 reports line 0 or the line
		// before; the byte offset is right, so prefer it.
		if start := pe.Position.Start; start > 0 && start <= len(l.src) {
			line = 1 + strings.Count(l.src[:start], "\n")
			col = start - strings.LastIndexByte(l.src[:start], '\n')
		}
		return md, &Error{
			Path: l.path,
			Line: max(line, 1),
			Col:  max(col, 0),
			Key:  pe.LastKey,
			Msg:  fmt.Sprintf("invalid TOML: %s (fix the syntax; see https://toml.io)", printable(strings.TrimSuffix(pe.Message, "."))),
		}
	}
	return md, &Error{Path: l.path, Msg: fmt.Sprintf("invalid TOML: %s (fix the syntax; see https://toml.io)", printable(err.Error()))}
}

// printable escapes control characters, which the parser's messages quote
// from the file.
func printable(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (l *loader) first() *Error {
	if len(l.errs) == 0 {
		return nil
	}
	return slices.MinFunc(l.errs, func(a, b *Error) int {
		switch {
		case before(a, b):
			return -1
		case before(b, a):
			return 1
		}
		return 0
	})
}

// at returns the position of path, or of its nearest located parent.
func (l *loader) at(path []string) pos {
	if l.pos == nil {
		l.pos = locate(l.src)
	}
	for n := len(path); n > 0; n-- {
		if p, ok := l.pos[posKey(path[:n])]; ok {
			return p
		}
	}
	return pos{}
}

// fail records an error at path.
func (l *loader) fail(path []string, format string, args ...any) {
	p := l.at(path)
	e := &Error{Path: l.path, Line: p.line, Key: keyString(path), Msg: fmt.Sprintf(format, args...)}
	if !p.lead {
		e.Col = p.col
	}
	l.errs = append(l.errs, e)
}

// keyString is the dotted TOML key of path, without element indexes.
func keyString(path []string) string {
	var k toml.Key
	for _, s := range path {
		if strings.HasPrefix(s, "\x01") {
			break
		}
		k = append(k, s)
	}
	return k.String()
}

// display names path for a message: "name", "[run]", "[run] ports",
// "[image] args.FOO".
func display(path []string, table bool) string {
	k := toml.Key(path)
	switch {
	case len(path) == 0:
		return "the file"
	case len(path) == 1 && table:
		return "[" + k.String() + "]"
	case len(path) == 1:
		return k.String()
	}
	return "[" + k[:1].String() + "] " + k[1:].String()
}

func join(path []string, s ...string) []string {
	return append(slices.Clip(path), s...)
}

// allowed reports whether the user consented to key (--allow).
func (l *loader) allowed(key string) bool { return slices.Contains(l.compose.Allow, key) }

// refuse records the vocabulary's refusal at path for what needs key.
func (l *loader) refuse(path []string, key, what string) {
	p := l.at(path)
	l.errs = append(l.errs, Refusal(Error{Path: l.path, Line: p.line, Key: keyString(path)}, what, key))
}

// gated passes host path p, which hpr reads or sends to the engine,
// through the gate (gate.go): its real path, or false with the refusal
// recorded at path.
func (l *loader) gated(path []string, p, name string) (string, bool) {
	j := judge(l.root, p, KindRead, name, l.compose.Allow)
	if j.what != "" && !l.allowed(j.key) {
		l.refuse(path, j.key, j.what)
		return "", false
	}
	return j.real, true
}

// get returns the value at path in the document.
func (l *loader) get(path ...string) (any, bool) {
	var v any = l.doc
	for _, s := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[s]; !ok {
			return nil, false
		}
	}
	return v, true
}

// checkKeys reports keys the schema does not know, each unknown table once.
func (l *loader) checkKeys(keys []toml.Key) {
	reported := map[string]bool{}
	for _, k := range keys {
		f := schema
	walk:
		for i, seg := range k {
			if f.kind != kindTable {
				break // below a value: checkTypes reports it
			}
			c := f.child(seg)
			if c == nil {
				path := []string(k[:i+1])
				if reported[posKey(path)] {
					break walk
				}
				reported[posKey(path)] = true
				l.unknown(f, path)
				break walk
			}
			f = c
		}
	}
}

func (l *loader) unknown(parent *field, path []string) {
	v, _ := l.get(path...)
	var what string
	switch v.(type) {
	case map[string]any, []map[string]any:
		what = "unknown table [" + toml.Key(path).String() + "]"
	default:
		what = fmt.Sprintf("unknown key %q", path[len(path)-1])
		if len(path) > 1 {
			what += " in " + display(path[:len(path)-1], true)
		}
	}
	name := path[len(path)-1]
	var valid []string
	var guess string
	for _, c := range parent.fields {
		n := c.name
		if len(path) == 1 && c.kind == kindTable {
			n = "[" + n + "]"
		}
		valid = append(valid, n)
		if guess == "" && (strings.EqualFold(c.name, name) || distance(c.name, name) <= 2) {
			guess = n
			if c.kind != kindTable || len(path) > 1 {
				guess = strconv.Quote(n)
			}
		}
	}
	if guess != "" {
		l.fail(path, "%s (did you mean %s?)", what, guess)
		return
	}
	l.fail(path, "%s (valid keys: %s)", what, strings.Join(valid, ", "))
}

// distance is the Levenshtein distance, for "did you mean".
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// typeName describes a decoded TOML value for a message.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a date-time"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "a list"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}

// scalar reports whether v is shown in a message as written.
func scalar(v any) bool {
	switch v.(type) {
	case int64, float64, bool, time.Time:
		return true
	}
	return false
}

// checkTypes reports values of the wrong type under the known keys.
func (l *loader) checkTypes(f *field, v any, path []string) {
	switch f.kind {
	case kindTable:
		m, ok := v.(map[string]any)
		if !ok {
			name := display(path, true)
			if _, aot := v.([]map[string]any); aot {
				l.fail(path, "[%s] must be a table, not an array of tables (write %s, not [%s])", name, name, name)
				return
			}
			l.fail(path, "%s must be a table, not %s (make it a section: %s)", path[len(path)-1], typeName(v), name)
			return
		}
		for _, c := range f.fields {
			if cv, ok := m[c.name]; ok {
				l.checkTypes(c, cv, join(path, c.name))
			}
		}
	case kindString:
		if _, ok := v.(string); !ok {
			l.fail(path, "%s must be a string, not %s (write %s)", display(path, false), typeName(v), f.example)
		}
	case kindList:
		list, ok := v.([]any)
		if !ok {
			l.fail(path, "%s must be a list of strings, not %s (write %s)", display(path, false), typeName(v), f.example)
			return
		}
		for i, e := range list {
			if _, ok := e.(string); ok {
				continue
			}
			if scalar(e) {
				l.fail(join(path, elemSeg(i)), "%s must hold strings, not %s (quote it: \"%v\")", display(path, false), typeName(e), e)
			} else {
				l.fail(join(path, elemSeg(i)), "%s must hold strings, not %s (write %s)", display(path, false), typeName(e), f.example)
			}
		}
	case kindMap:
		m, ok := v.(map[string]any)
		if !ok {
			l.fail(path, "%s must be a table of strings, not %s (write %s)", display(path, false), typeName(v), f.example)
			return
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			e := m[k]
			if _, ok := e.(string); ok {
				continue
			}
			p := join(path, k)
			if scalar(e) {
				l.fail(p, "%s must be a string, not %s (quote it: %s = \"%v\")", display(p, false), typeName(e), toml.Key{k}, e)
			} else {
				l.fail(p, "%s must be a string, not %s (write %s)", display(p, false), typeName(e), f.example)
			}
		}
	}
}

// The accessors below run after checkTypes found no error, so the types
// hold.

func (l *loader) str(path ...string) (string, bool) {
	v, ok := l.get(path...)
	s, _ := v.(string)
	return s, ok
}

func (l *loader) list(path ...string) ([]string, bool) {
	v, ok := l.get(path...)
	if !ok {
		return nil, false
	}
	in, _ := v.([]any)
	out := make([]string, 0, len(in))
	for _, e := range in {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out, true
}

func (l *loader) strMap(path ...string) (map[string]string, bool) {
	v, ok := l.get(path...)
	if !ok {
		return nil, false
	}
	in, _ := v.(map[string]any)
	out := make(map[string]string, len(in))
	for k, e := range in {
		out[k], _ = e.(string)
	}
	return out, true
}

// project builds the Project, over base (a compose file's) when not nil,
// recording every semantic error. Where both speak, hpr.toml wins: a list
// replaces base's, a table's keys replace base's keys.
func (l *loader) project(base *Project) *Project {
	p := base
	if p == nil {
		p = &Project{Name: l.name}
	}
	if s, ok := l.str("name"); ok {
		if !validName(s) {
			l.fail([]string{"name"}, "name %q is not a valid project name (use lower-case letters and digits, with single '.', '_' or '-' between them: name = %q)", s, sanitizeName(s))
		}
		p.Name = s
	}
	l.engine(&p.Engine)
	l.image(&p.Image)
	l.run(p)
	return p
}

func (l *loader) engine(e *Engine) {
	if s, ok := l.str("engine", "prefer"); ok {
		switch s {
		case "auto":
		case "docker":
			e.Prefer = idmap.KindDocker
		case "podman":
			e.Prefer = idmap.KindPodman
		default:
			l.fail([]string{"engine", "prefer"}, "[engine] prefer %q is not auto, docker or podman (write prefer = \"auto\", \"docker\" or \"podman\")", s)
		}
	}
	if s, ok := l.str("engine", "endpoint"); ok {
		if msg := checkEndpoint(s); msg != "" {
			l.fail([]string{"engine", "endpoint"}, "[engine] endpoint %q %s", s, msg)
		}
		e.Endpoint = s
	}
	if s, ok := l.str("engine", "remote_root"); ok {
		if msg := checkRemoteRoot(s); msg != "" {
			l.fail([]string{"engine", "remote_root"}, "[engine] remote_root %q %s", s, msg)
		}
		e.RemoteRoot, e.RemoteRootLine = s, l.at([]string{"engine", "remote_root"}).line
	}
}

func (l *loader) image(img *Image) {
	ref, hasRef := l.str("image", "ref")
	build, hasBuild := l.str("image", "build")
	df, hasDF := l.str("image", "dockerfile")
	args, hasArgs := l.strMap("image", "args")
	based := img.Building() // a compose file's build, which dockerfile and args may adjust

	if hasRef && hasBuild {
		second := []string{"image", "build"}
		if p, q := l.at([]string{"image", "ref"}), l.at(second); p.line > q.line || p.line == q.line && p.col > q.col {
			second = []string{"image", "ref"}
		}
		l.fail(second, "[image] ref and build are exclusive (keep one)")
	}
	if hasRef {
		switch {
		case ref == "":
			l.fail([]string{"image", "ref"}, "[image] ref is empty (name an image, e.g. ref = \"debian:bookworm-slim\", or remove ref)")
		case strings.ContainsFunc(ref, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			l.fail([]string{"image", "ref"}, "[image] ref %q contains blanks or control characters (write a reference such as \"debian:bookworm-slim\")", ref)
		}
		*img = Image{Ref: ref}
	}
	if hasDF && !hasBuild && !based {
		l.fail([]string{"image", "dockerfile"}, "[image] dockerfile needs build (add build = \".\" or remove dockerfile)")
	}
	if hasArgs && !hasBuild && !based {
		l.fail([]string{"image", "args"}, "[image] args need build (add build = \".\" or remove args)")
	}
	switch {
	case hasBuild:
		ctx := l.buildContext(build)
		df := l.dockerfile(ctx, build, df, hasDF)
		if ctx != "" {
			ctx, _ = l.gated([]string{"image", "build"}, ctx, "[image] build "+build)
		}
		if df != "" && ctx != "" {
			if df, _ = l.gated([]string{"image", "dockerfile"}, df, "[image] dockerfile "+df); df != "" {
				if _, ok := below(ctx, df); !ok {
					l.fail([]string{"image", "dockerfile"}, "[image] dockerfile resolves to %s, outside the build context %s (move it into the context)", df, ctx)
				}
			}
		}
		*img = Image{BuildContext: ctx, Dockerfile: df}
	case hasDF && based && !hasRef:
		img.Dockerfile = l.dockerfile(img.BuildContext, img.BuildContext, df, true)
	}
	for _, k := range slices.Sorted(maps.Keys(args)) {
		path := []string{"image", "args", k}
		switch {
		case k == "" || strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r == '=' || r == 0x7f }):
			l.fail(path, "[image] args key %q is not a valid build arg name (use letters, digits and '_')", k)
		case strings.ContainsRune(args[k], 0):
			l.fail(path, "%s contains a NUL byte (remove it)", display(path, false))
		}
	}
	if hasArgs && img.Building() && len(args) > 0 {
		img.Args = maps.Clone(img.Args)
		if img.Args == nil {
			img.Args = map[string]string{}
		}
		maps.Copy(img.Args, args)
	}
}

func (l *loader) buildContext(build string) string {
	path := []string{"image", "build"}
	switch {
	case build == "":
		l.fail(path, "[image] build is empty (write build = \".\" for the directory of %s)", FileName)
		return ""
	case strings.ContainsRune(build, 0):
		l.fail(path, "[image] build contains a NUL byte (remove it)")
		return ""
	}
	if filepath.IsAbs(build) {
		return filepath.Clean(build)
	}
	return filepath.Join(l.dir, build)
}

func (l *loader) dockerfile(ctx, build, df string, set bool) string {
	path := []string{"image", "dockerfile"}
	if !set {
		df = "Dockerfile"
	}
	switch {
	case df == "":
		l.fail(path, "[image] dockerfile is empty (remove it to use Dockerfile in the build context)")
		return ""
	case strings.ContainsRune(df, 0):
		l.fail(path, "[image] dockerfile contains a NUL byte (remove it)")
		return ""
	case ctx == "":
		return ""
	}
	abs := df
	if !filepath.IsAbs(df) {
		abs = filepath.Join(ctx, df)
	}
	abs = filepath.Clean(abs)
	rel, ok := below(ctx, abs)
	switch {
	case !ok:
		l.fail(path, "[image] dockerfile %q is outside the build context %q (it is relative to build; move it into the context or widen build)", df, build)
	case rel == ".":
		l.fail(path, "[image] dockerfile %q is the build context itself (name the file, e.g. dockerfile = \"Dockerfile\")", df)
	}
	return abs
}

func (l *loader) run(p *Project) {
	r := &p.Run
	l.commands(r)
	if r.Mount == "" {
		r.Mount = DefaultMount
	}
	if m, ok := l.str("run", "mount"); ok {
		if msg := checkMount(m); msg != "" {
			l.fail([]string{"run", "mount"}, "[run] mount %q %s", m, msg)
		}
		r.Mount = m
	}
	l.ports(r)
	l.env(r)
	l.volumes(p)
	if r.User == "" {
		r.User = idmap.OverrideAuto
	}
	if s, ok := l.str("run", "user"); ok {
		switch u := idmap.Override(s); u {
		case idmap.OverrideAuto, idmap.OverrideRoot, idmap.OverrideImage:
			r.User, r.UserSpec = u, ""
		default:
			l.fail([]string{"run", "user"}, "[run] user %q is not auto, root or image (write user = \"auto\", \"root\" or \"image\")", s)
		}
	}
	l.capabilities(r)
	if s, ok := l.str("run", "selinux"); ok {
		label, err := runtime.ParseSELinux(s)
		if err != nil {
			l.fail([]string{"run", "selinux"}, "[run] selinux %q is not disable, shared or private (write selinux = \"disable\", \"shared\" or \"private\", or remove it for the default)", s)
		}
		r.SELinux = label
	}
}

func (l *loader) commands(r *Run) {
	if cmd, ok := l.list("run", "command"); ok {
		if len(cmd) == 0 {
			l.fail([]string{"run", "command"}, "[run] command is empty (remove it to use the image's CMD, or list the program and its arguments)")
		}
		l.argv([]string{"run", "command"}, cmd, "command = [\"jekyll\", \"serve\"]")
		r.Command = cmd
	}
	if ep, ok := l.list("run", "entrypoint"); ok {
		l.argv([]string{"run", "entrypoint"}, ep, "entrypoint = [\"/bin/sh\", \"-c\"], or [] to clear the image's")
		r.Entrypoint = ep
	}
}

func (l *loader) ports(r *Run) {
	ports, set := l.list("run", "ports")
	if set {
		r.Ports = nil
	}
	type hostPort struct {
		ip    string
		port  uint16
		proto string
	}
	seen := map[hostPort]bool{}
	for i, s := range ports {
		path := []string{"run", "ports", elemSeg(i)}
		if i == maxPorts {
			l.fail(path, "[run] ports: %s", tooManyPorts)
			break
		}
		port, msg := parsePort(s)
		if msg != "" {
			l.fail(path, "[run] ports: %q %s", s, msg)
			continue
		}
		k := hostPort{port.HostIP, port.HostPort, port.Protocol}
		if seen[k] {
			l.fail(path, "[run] ports: host port %d/%s is published twice (remove one)", port.HostPort, port.Protocol)
			continue
		}
		seen[k] = true
		r.Ports = append(r.Ports, loopbackByDefault(port))
	}
}

func (l *loader) env(r *Run) {
	env, _ := l.strMap("run", "env")
	if len(env) > 0 && len(r.Env) > 0 {
		// hpr.toml's keys replace the compose file's.
		r.Env = slices.DeleteFunc(r.Env, func(kv string) bool {
			k, _, _ := strings.Cut(kv, "=")
			_, over := env[k]
			return over
		})
		defer slices.Sort(r.Env)
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		path := []string{"run", "env", k}
		switch {
		case k == "" || strings.ContainsAny(k, "=\x00"):
			l.fail(path, "[run] env key %q is not a valid variable name (use letters, digits and '_')", k)
		case strings.ContainsRune(env[k], 0):
			l.fail(path, "%s contains a NUL byte (remove it)", display(path, false))
		}
		r.Env = append(r.Env, k+"="+env[k])
	}
}

func (l *loader) volumes(p *Project) {
	r := &p.Run
	vols, set := l.list("run", "volumes")
	if set {
		r.Volumes = nil
	}
	targets := map[string]bool{}
	for i, s := range vols {
		path := []string{"run", "volumes", elemSeg(i)}
		name, target, msg := parseVolume(s)
		switch {
		case msg != "":
			l.fail(path, "[run] volumes: %q %s", s, msg)
			continue
		case target == r.Mount:
			l.fail(path, "[run] volumes: %q would hide the project mounted at %s (mount the volume elsewhere)", s, r.Mount)
			continue
		case targets[target]:
			l.fail(path, "[run] volumes: two volumes mount at %s (keep one)", target)
			continue
		}
		targets[target] = true
		r.Volumes = append(r.Volumes, volumeMount(p, name, target))
	}
}

func (l *loader) capabilities(r *Run) {
	_, setDrop := l.get("run", "cap_drop")
	if _, setAdd := l.get("run", "cap_add"); !setDrop && !setAdd && (r.CapDrop != nil || r.CapAdd != nil) {
		return // a compose file's, which hpr.toml does not change
	}
	r.CapDrop = l.caps("cap_drop")
	r.CapAdd = l.caps("cap_add")
	drop := map[string]bool{}
	for _, c := range r.CapDrop {
		drop[c] = true
	}
	add, _ := l.list("run", "cap_add")
	for i, s := range add {
		if c, msg := normalizeCap(s); msg == "" && drop[c] {
			l.fail([]string{"run", "cap_add", elemSeg(i)}, "[run] %s is both in cap_drop and cap_add (keep it in one)", c)
		}
	}
	if _, set := l.get("run", "cap_drop"); !set {
		r.CapDrop = defaultCapDrop(r.CapAdd)
	}
}

// argv checks a command or entrypoint list.
func (l *loader) argv(path []string, argv []string, example string) {
	if len(argv) > 0 && argv[0] == "" {
		l.fail(join(path, elemSeg(0)), "%s starts with an empty string (put the program first: %s)", display(path, false), example)
	}
	for i, a := range argv {
		if strings.ContainsRune(a, 0) {
			l.fail(join(path, elemSeg(i)), "%s: %q contains a NUL byte (remove it)", display(path, false), a)
		}
	}
}

// caps returns the normalised capabilities of [run] key, without
// duplicates, recording errors.
func (l *loader) caps(key string) []string {
	list, _ := l.list("run", key)
	var out []string
	for i, s := range list {
		c, msg := normalizeCap(s)
		if msg != "" {
			l.fail([]string{"run", key, elemSeg(i)}, "[run] %s: %q %s", key, s, msg)
			continue
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}
