package podman

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// BaseImages returns, in order and without repeats, the images a Dockerfile
// builds on: every FROM that is not "scratch" or an earlier stage, and every
// COPY --from that names an image rather than a stage. ARGs declared before
// the first FROM are substituted, with buildArgs overriding their defaults,
// as the builder does (build args no ARG declares are substituted too, so
// the check never rejects a Dockerfile the builder accepts). A backend checks these exist before building, because
// hpr never pulls.
//
// It understands parser directives (escape), line continuations, comments
// and heredocs; it is not a full Dockerfile parser.
func BaseImages(dockerfile []byte, buildArgs map[string]string) ([]string, error) {
	var (
		images []string
		seen   = map[string]bool{}
		stages = map[string]bool{}
		meta   = map[string]string{} // ARGs before the first FROM
		nFrom  int
	)
	add := func(ref string) {
		if !seen[ref] {
			seen[ref] = true
			images = append(images, ref)
		}
	}
	// Build args that no ARG declares still reach FROM in Buildah; declared
	// ones are overwritten below.
	for k, v := range buildArgs {
		meta[k] = v
	}
	insts, err := instructions(dockerfile)
	if err != nil {
		return nil, err
	}
	for _, in := range insts {
		switch in.cmd {
		case "ARG":
			if nFrom > 0 {
				continue
			}
			for _, a := range fieldsQuoted(in.args) {
				name, def, hasDef := strings.Cut(a, "=")
				if v, ok := buildArgs[name]; ok {
					meta[name] = v
				} else if hasDef {
					meta[name] = unquote(def)
				} else {
					meta[name] = ""
				}
			}
		case "FROM":
			nFrom++
			f := flagsAndArgs(in.args)
			if len(f.args) == 0 {
				return nil, fmt.Errorf("line %d: FROM without an image", in.line)
			}
			ref := expand(f.args[0], meta)
			if len(f.args) != 1 && (len(f.args) != 3 || !strings.EqualFold(f.args[1], "AS")) {
				return nil, fmt.Errorf("line %d: FROM %s: want FROM image [AS name]", in.line, in.args)
			}
			if ref == "" {
				return nil, fmt.Errorf("line %d: FROM %s names no image (is a build arg missing?)", in.line, in.args)
			}
			if !strings.EqualFold(ref, "scratch") && !stages[strings.ToLower(ref)] {
				add(ref)
			}
			// The stage name counts from the next instruction on.
			if len(f.args) == 3 {
				stages[strings.ToLower(f.args[2])] = true
			}
		case "COPY":
			from, ok := flagsAndArgs(in.args).flags["from"]
			if !ok {
				continue
			}
			from = expand(from, meta)
			if _, err := strconv.Atoi(from); err == nil || stages[strings.ToLower(from)] || from == "" {
				continue
			}
			add(from)
		}
	}
	if nFrom == 0 {
		return nil, fmt.Errorf("no FROM instruction")
	}
	return images, nil
}

// instruction is one logical Dockerfile line.
type instruction struct {
	line int    // where it starts, 1-based
	cmd  string // upper-cased
	args string
}

var (
	directiveRE = regexp.MustCompile(`^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`)
	heredocRE   = regexp.MustCompile(`<<(-?)\s*(["']?)([A-Za-z_][A-Za-z0-9_]*)(["']?)`)
)

// instructions splits a Dockerfile into logical lines: directives read,
// continuations joined, comments dropped, heredoc bodies skipped.
func instructions(dockerfile []byte) ([]instruction, error) {
	escape := byte('\\')
	sc := bufio.NewScanner(bytes.NewReader(dockerfile))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	var (
		out        []instruction
		cur        strings.Builder
		start, n   int
		directives = true
		heredocs   []string // terminators still expected
		strip      []bool
	)
	for sc.Scan() {
		n++
		raw := sc.Text()
		if len(heredocs) > 0 {
			l := raw
			if strip[0] {
				l = strings.TrimLeft(l, "\t")
			}
			if l == heredocs[0] {
				heredocs, strip = heredocs[1:], strip[1:]
			}
			continue
		}
		line := strings.TrimSpace(raw)
		if directives {
			if m := directiveRE.FindStringSubmatch(line); m != nil {
				if strings.EqualFold(m[1], "escape") {
					if m[2] != "\\" && m[2] != "`" {
						return nil, fmt.Errorf("line %d: invalid escape %q", n, m[2])
					}
					escape = m[2][0]
				}
				continue
			}
			directives = false
		}
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() > 0) {
			continue // comments and blank lines inside continuations are dropped
		}
		if line == "" {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if line[len(line)-1] == escape {
			cur.WriteString(line[:len(line)-1])
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(line)
		logical := cur.String()
		cur.Reset()
		cmd, args, _ := strings.Cut(logical, " ")
		in := instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		out = append(out, in)
		if in.cmd == "RUN" || in.cmd == "COPY" || in.cmd == "ADD" {
			for _, m := range heredocRE.FindAllStringSubmatch(in.args, -1) {
				if m[2] != m[4] {
					continue
				}
				heredocs = append(heredocs, m[3])
				strip = append(strip, m[1] == "-")
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading Dockerfile: %w", err)
	}
	if cur.Len() > 0 {
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
	}
	return out, nil
}

type parsedArgs struct {
	flags map[string]string
	args  []string
}

// flagsAndArgs splits "--platform=x image AS name" into flags and args.
func flagsAndArgs(s string) parsedArgs {
	p := parsedArgs{flags: map[string]string{}}
	for _, f := range fieldsQuoted(s) {
		if len(p.args) == 0 && strings.HasPrefix(f, "--") {
			k, v, _ := strings.Cut(f[2:], "=")
			p.flags[strings.ToLower(k)] = unquote(v)
			continue
		}
		p.args = append(p.args, unquote(f))
	}
	return p
}

// fieldsQuoted splits on white space outside double or single quotes.
func fieldsQuoted(s string) []string {
	var (
		out   []string
		cur   strings.Builder
		quote rune
		in    bool
	)
	for _, r := range s {
		switch {
		case quote != 0:
			cur.WriteRune(r)
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote, in = r, true
			cur.WriteRune(r)
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			in = true
			cur.WriteRune(r)
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

var varRE = regexp.MustCompile(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))`)

// expand substitutes $NAME, ${NAME}, ${NAME:-default} and ${NAME:+alt} from
// vars; an undeclared name expands to "".
func expand(s string, vars map[string]string) string {
	return varRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := varRE.FindStringSubmatch(m)
		if sub[4] != "" {
			return vars[sub[4]]
		}
		v, set := vars[sub[1]]
		switch sub[2] {
		case "-":
			if !set || v == "" {
				return sub[3]
			}
		case "+":
			if set && v != "" {
				return sub[3]
			}
			return ""
		}
		return v
	})
}
