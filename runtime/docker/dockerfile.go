package docker

import (
	"bufio"
	"bytes"
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

// baseImages returns, in order and without repeats, the images a Dockerfile
// builds on: every FROM that is not "scratch" or an earlier stage, and every
// COPY --from that names an image rather than a stage. ARGs declared before
// the first FROM are substituted, build args overriding their defaults, as
// the builder does. The daemon would pull a missing one; hpr checks first.
func baseImages(dockerfile []byte, buildArgs map[string]string) ([]string, error) {
	insts, err := instructions(dockerfile)
	if err != nil {
		return nil, err
	}
	var (
		images []string
		seen   = map[string]bool{}
		stages = map[string]bool{}
		meta   = map[string]string{}
		froms  int
	)
	add := func(ref string) {
		if !seen[ref] {
			seen[ref] = true
			images = append(images, ref)
		}
	}
	for _, in := range insts {
		switch in.cmd {
		case "ARG":
			if froms > 0 {
				continue // stage args do not reach FROM lines
			}
			for _, a := range strings.Fields(in.args) {
				name, def, hasDef := strings.Cut(a, "=")
				switch v, ok := buildArgs[name]; {
				case ok:
					meta[name] = v
				case hasDef:
					d, err := expand(unquote(def), meta)
					if err != nil {
						return nil, fmt.Errorf("line %d: %w", in.line, err)
					}
					meta[name] = d
				default:
					meta[name] = ""
				}
			}
		case "FROM":
			froms++
			_, words := splitFlags(in.args)
			if len(words) != 1 && (len(words) != 3 || !strings.EqualFold(words[1], "AS")) {
				return nil, fmt.Errorf("line %d: FROM %s: want FROM [--platform=P] image [AS name]", in.line, in.args)
			}
			ref, err := expand(words[0], meta)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", in.line, err)
			}
			if ref == "" {
				return nil, fmt.Errorf("line %d: FROM %s names no image; is a build arg missing?", in.line, in.args)
			}
			if !strings.EqualFold(ref, "scratch") && !stages[strings.ToLower(ref)] {
				add(ref)
			}
			if len(words) == 3 {
				stages[strings.ToLower(words[2])] = true
			}
		case "COPY":
			flags, _ := splitFlags(in.args)
			from, ok := flags["from"]
			if !ok {
				continue
			}
			ref, err := expand(from, meta)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", in.line, err)
			}
			if _, err := strconv.Atoi(ref); err == nil || stages[strings.ToLower(ref)] {
				continue // a stage, by index or name
			}
			if ref != "" && !strings.EqualFold(ref, "scratch") {
				add(ref)
			}
		}
	}
	if froms == 0 {
		return nil, fmt.Errorf("no FROM instruction")
	}
	return images, nil
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
