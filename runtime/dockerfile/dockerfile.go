// Package dockerfile reads what hpr needs from a Dockerfile without building
// it: the images it builds on (checked before a build, because hpr never
// pulls) and the context paths its COPY and ADD instructions read (hashed to
// decide whether a build is needed). It is not a full Dockerfile parser.
package dockerfile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// instruction is one logical Dockerfile line, continuations joined.
type instruction struct {
	line int    // where it starts, 1-based
	cmd  string // upper-cased: FROM, ARG, COPY, ...
	args string
}

var directiveRE = regexp.MustCompile(`^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`)

// BaseImages returns, in order and without repeats, the images a Dockerfile
// builds on: every FROM that is not "scratch" or an earlier stage, and every
// COPY --from that names an image rather than a stage. ARGs declared before
// the first FROM are substituted, build args overriding their defaults, as
// the builder does. The daemon would pull a missing one; hpr checks first.
func BaseImages(dockerfile []byte, buildArgs map[string]string) ([]string, error) {
	insts, err := instructions(dockerfile)
	if err != nil {
		return nil, err
	}
	b := bases{args: buildArgs, seen: map[string]bool{}, stages: map[string]bool{}, meta: map[string]string{}}
	for _, in := range insts {
		switch in.cmd {
		case "ARG":
			err = b.arg(in)
		case "FROM":
			err = b.from(in)
		case "COPY":
			err = b.copyFrom(in)
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", in.line, err)
		}
	}
	if b.froms == 0 {
		return nil, fmt.Errorf("no FROM instruction")
	}
	return b.images, nil
}

// bases is BaseImages' walk through a Dockerfile.
type bases struct {
	args   map[string]string // the build's args
	images []string          // the base images found, in order
	seen   map[string]bool
	stages map[string]bool   // stage names, lower case
	meta   map[string]string // the global args' values, for FROM lines
	froms  int
}

func (b *bases) add(ref string) {
	if !b.seen[ref] {
		b.seen[ref] = true
		b.images = append(b.images, ref)
	}
}

// arg takes an ARG before the first FROM (a stage's args do not reach FROM
// lines).
func (b *bases) arg(in instruction) error {
	if b.froms > 0 {
		return nil
	}
	for _, a := range strings.Fields(in.args) {
		name, def, hasDef := strings.Cut(a, "=")
		switch v, ok := b.args[name]; {
		case ok:
			b.meta[name] = v
		case hasDef:
			d, err := expand(unquote(def), b.meta)
			if err != nil {
				return err
			}
			b.meta[name] = d
		default:
			b.meta[name] = ""
		}
	}
	return nil
}

func (b *bases) from(in instruction) error {
	b.froms++
	_, words := splitFlags(in.args)
	if len(words) != 1 && (len(words) != 3 || !strings.EqualFold(words[1], "AS")) {
		return fmt.Errorf("FROM %s: want FROM [--platform=P] image [AS name]", in.args)
	}
	ref, err := expand(words[0], b.meta)
	if err != nil {
		return err
	}
	if ref == "" {
		return fmt.Errorf("FROM %s names no image; is a build arg missing?", in.args)
	}
	if !strings.EqualFold(ref, "scratch") && !b.stages[strings.ToLower(ref)] {
		b.add(ref)
	}
	if len(words) == 3 {
		b.stages[strings.ToLower(words[2])] = true
	}
	return nil
}

// copyFrom takes the image a COPY --from names, unless it is a stage.
func (b *bases) copyFrom(in instruction) error {
	flags, _ := splitFlags(in.args)
	from, ok := flags["from"]
	if !ok {
		return nil
	}
	ref, err := expand(from, b.meta)
	if err != nil {
		return err
	}
	if _, err := strconv.Atoi(ref); err == nil || b.stages[strings.ToLower(ref)] {
		return nil // a stage, by index or name
	}
	if ref != "" && !strings.EqualFold(ref, "scratch") {
		b.add(ref)
	}
	return nil
}

// instructions splits a Dockerfile into logical lines: parser directives
// (escape) read, comments dropped, continuation lines joined.
func instructions(src []byte) ([]instruction, error) {
	var (
		out        []instruction
		escape     = `\`
		directives = true
		cur        strings.Builder
		start      int
		inCont     bool
	)
	emit := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		inCont = false
		if text == "" {
			return
		}
		cmd, args := text, ""
		if i := strings.IndexAny(text, " \t"); i >= 0 {
			cmd, args = text[:i], text[i+1:]
		}
		out = append(out, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
	}
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(line)
		if directives {
			if m := directiveRE.FindStringSubmatch(trimmed); m != nil {
				if strings.EqualFold(m[1], "escape") {
					if m[2] != `\` && m[2] != "`" {
						return nil, fmt.Errorf("line %d: invalid escape token %q", n, m[2])
					}
					escape = m[2]
				}
				continue
			}
			directives = false
		}
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue // comments and blank lines, also inside continuations
		}
		if !inCont {
			start = n
		}
		body := strings.TrimRight(line, " \t")
		if strings.HasSuffix(body, escape) {
			cur.WriteString(strings.TrimSuffix(body, escape))
			inCont = true
			continue
		}
		cur.WriteString(line)
		emit()
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading Dockerfile: %w", err)
	}
	if inCont {
		emit()
	}
	return out, nil
}

// splitFlags splits an instruction's arguments into its leading --name=value
// flags and the words after them.
func splitFlags(args string) (flags map[string]string, words []string) {
	flags = map[string]string{}
	words = strings.Fields(args)
	for len(words) > 0 && strings.HasPrefix(words[0], "--") {
		name, value, _ := strings.Cut(strings.TrimPrefix(words[0], "--"), "=")
		flags[strings.ToLower(name)] = value
		words = words[1:]
	}
	return flags, words
}

// expand substitutes $X, ${X}, ${X:-default} and ${X:+alternative} from
// vars, as the builder does for FROM lines; unset variables are empty and
// \$ is a literal dollar.
func expand(s string, vars map[string]string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] == '$':
			b.WriteByte('$')
			i++
		case c != '$' || i+1 == len(s):
			b.WriteByte(c)
		case s[i+1] == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("%q: missing '}'", s)
			}
			inner := s[i+2 : i+end]
			i += end
			name := inner[:nameLen(inner)]
			if name == "" {
				return "", fmt.Errorf("%q: bad substitution", s)
			}
			v := vars[name]
			switch rest := inner[len(name):]; {
			case rest == "":
			case strings.HasPrefix(rest, ":-"):
				if v == "" {
					var err error
					if v, err = expand(rest[2:], vars); err != nil {
						return "", err
					}
				}
			case strings.HasPrefix(rest, ":+"):
				if v != "" {
					var err error
					if v, err = expand(rest[2:], vars); err != nil {
						return "", err
					}
				}
			default:
				return "", fmt.Errorf("%q: unsupported substitution %q", s, rest)
			}
			b.WriteString(v)
		default:
			n := nameLen(s[i+1:])
			if n == 0 {
				b.WriteByte(c)
				continue
			}
			b.WriteString(vars[s[i+1:i+1+n]])
			i += n
		}
	}
	return b.String(), nil
}

// nameLen is the length of the variable name s starts with.
func nameLen(s string) int {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return i
		}
	}
	return len(s)
}

// unquote strips one pair of matching surrounding quotes.
func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// Sources returns the context paths (as written, after ARG and build-arg
// substitution) that COPY and ADD instructions read from the build context.
// COPY --from sources come from another stage or image and are left out, as
// are ADD URLs. The instructions' last word is the destination; JSON-array
// forms are understood.
func Sources(dockerfile []byte, buildArgs map[string]string) ([]string, error) {
	insts, err := instructions(dockerfile)
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	var out []string
	seen := map[string]bool{}
	for _, in := range insts {
		switch in.cmd {
		case "ARG":
			for _, a := range strings.Fields(in.args) {
				name, def, hasDef := strings.Cut(a, "=")
				if v, ok := buildArgs[name]; ok {
					vars[name] = v
				} else if hasDef {
					vars[name] = unquote(def)
				}
			}
		case "ENV":
			// ENV values are visible to later COPY sources too; the common
			// KEY=VALUE form is enough here.
			for _, a := range strings.Fields(in.args) {
				if k, v, ok := strings.Cut(a, "="); ok {
					vars[k] = unquote(v)
				}
			}
		case "COPY", "ADD":
			flags, words := splitFlags(in.args)
			if _, ok := flags["from"]; ok {
				continue
			}
			if rest := strings.Join(words, " "); strings.HasPrefix(rest, "[") {
				var arr []string
				if json.Unmarshal([]byte(rest), &arr) == nil {
					words = arr
				}
			}
			if len(words) < 2 {
				return nil, fmt.Errorf("line %d: %s %s: want sources and a destination", in.line, in.cmd, in.args)
			}
			for _, w := range words[:len(words)-1] {
				if strings.HasPrefix(w, "<<") {
					continue // a heredoc: its content is in the Dockerfile itself
				}
				src, err := expand(w, vars)
				if err != nil {
					return nil, fmt.Errorf("line %d: %w", in.line, err)
				}
				if in.cmd == "ADD" && (strings.Contains(src, "://") || strings.HasPrefix(src, "git@")) {
					continue
				}
				if !seen[src] {
					seen[src] = true
					out = append(out, src)
				}
			}
		}
	}
	return out, nil
}
