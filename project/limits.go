package project

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"gopkg.in/yaml.v3"

	"github.com/hostpersist/hpr/runtime"
)

// A project's files are written by whoever wrote the repository, so what hpr
// reads of them is bounded before a parser sees it: the TOML decoder
// recurses once per bracket (a few million of them overflow Go's stack, a
// fatal error no recover catches), and compose-go's interpolation and the
// TOML decoder's inline tables take time quadratic in their nesting. The
// limits are far above any real file's and are checked first, so each
// refusal is one line naming the file and the line.
const (
	// maxFileSize bounds hpr.toml, compose files, .env and env_file.
	maxFileSize = 1 << 20
	// maxNesting bounds brackets and braces in hpr.toml and the depth of
	// a compose file's mappings and lists.
	maxNesting = 32
	// maxInterpolationDepth bounds ${...} inside ${...}.
	maxInterpolationDepth = 8
	// maxInterpolated bounds the bytes the variables of one compose file
	// or .env expand to, so a value used many times (or a .env variable
	// doubled line after line) cannot grow without end.
	maxInterpolated = 8 << 20
	// maxPorts bounds the ports a project publishes: every one costs the
	// engine a proxy or a forwarding rule when the container starts and
	// when it stops.
	maxPorts = 100
)

// tooManyPorts is the message of a project that publishes more than
// maxPorts ports.
const tooManyPorts = "more than 100 ports (publish fewer: each costs the engine a proxy or a rule when the container starts and stops)"

// readProjectFile reads a project file of at most maxFileSize bytes. It
// refuses what is not a regular file without blocking on it (a FIFO or a
// device named hpr.toml). what names the file in the fix ("an hpr.toml").
func readProjectFile(path, what string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("is not a regular file but a %s (make it %s)", fileKind(fi.Mode()), what)}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, &Error{
			Path: path,
			Line: 1 + strings.Count(string(data[:maxFileSize]), "\n"),
			Msg:  fmt.Sprintf("the file goes on past 1 MiB, the most hpr reads of %s (make it smaller)", what),
		}
	}
	return data, nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeDevice != 0:
		return "device"
	case m&os.ModeSocket != 0:
		return "socket"
	}
	return "special file"
}

// tomlNesting returns the line and column where hpr.toml's arrays and inline
// tables first nest deeper than maxNesting, or 0 when they do not. It
// follows brackets and braces outside strings and comments, which is all
// the nesting TOML has; a text it misreads is one the decoder rejects.
func tomlNesting(src string) (line, col int) {
	depth, line, start := 0, 1, 0
	for i := 0; i < len(src); i++ {
		switch c := src[i]; c {
		case '\n':
			line, start = line+1, i+1
		case '#':
			for i+1 < len(src) && src[i+1] != '\n' {
				i++
			}
		case '"', '\'':
			end, lines, last := skipTOMLString(src, i)
			if lines > 0 {
				line, start = line+lines, last
			}
			i = end
		case '[', '{':
			if depth++; depth > maxNesting {
				return line, i - start + 1
			}
		case ']', '}':
			depth = max(depth-1, 0)
		}
	}
	return 0, 0
}

// skipTOMLString returns the index of the last byte of the string that
// starts at src[i], how many newlines it holds and the index after the
// last of them. A one-line string ends at the end of its line at the
// latest.
func skipTOMLString(src string, i int) (end, lines, last int) {
	q := src[i]
	multi := strings.HasPrefix(src[i:], strings.Repeat(string(q), 3))
	j := i + 1
	if multi {
		j = i + 3
	}
	for ; j < len(src); j++ {
		switch c := src[j]; {
		case c == '\\' && q == '"':
			j++
			if j < len(src) && src[j] == '\n' {
				lines, last = lines+1, j+1
			}
		case c == '\n':
			if !multi {
				return j - 1, lines, last
			}
			lines, last = lines+1, j+1
		case c == q && !multi:
			return j, lines, last
		case c == q && strings.HasPrefix(src[j:], strings.Repeat(string(q), 3)):
			// Up to two more quotes belong to the content.
			j += 2
			for n := 0; n < 2 && j+1 < len(src) && src[j+1] == q; n++ {
				j++
			}
			return j, lines, last
		}
	}
	return len(src) - 1, lines, last
}

// tooDeepAt is the offset in s where ${...} first nests deeper than
// maxInterpolationDepth, or -1; $$ is a literal $.
func tooDeepAt(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '$':
			i++
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			if depth++; depth > maxInterpolationDepth {
				return i
			}
			i++
		case s[i] == '}' && depth > 0:
			depth--
		}
	}
	return -1
}

// tooDeep is the message of a ${...} nested past maxInterpolationDepth.
const tooDeep = "nests ${...} more than 8 deep (write the value out)"

// budget counts the bytes variables expand to in one file.
type budget struct{ used int }

// spend adds n bytes and reports whether the total is still within
// maxInterpolated.
func (b *budget) spend(n int) bool {
	b.used += n
	return b.used <= maxInterpolated
}

// tooLarge is the message of a file whose variables expand past
// maxInterpolated.
const tooLarge = "its variables expand to more than 8 MiB (use each large value once, or fewer of them)"

// readDotenv reads a .env or env_file with compose-go's parser, within the
// limits: its size, how deep its ${...} nest (over the whole file, as a
// quoted value may span lines) and how much its variables expand to, each
// value being able to use the ones before it.
func readDotenv(path string, lookup func(string) (string, bool)) (map[string]string, error) {
	data, err := readProjectFile(path, "a .env file")
	if err != nil {
		return nil, err
	}
	if at := tooDeepAt(string(data)); at >= 0 {
		return nil, &Error{Path: path, Line: 1 + strings.Count(string(data[:at]), "\n"), Msg: "a value " + tooDeep}
	}
	vars := map[string]string{}
	var b budget
	over := false
	bounded := func(k string) (string, bool) {
		if over {
			return "", true
		}
		v, ok := lookup(k)
		if !ok {
			v, ok = vars[k]
		}
		if over = !b.spend(len(v)); over {
			return "", true
		}
		return v, ok
	}
	if err := dotenv.ParseWithFormat(bytes.NewReader(data), path, vars, bounded, dotenv.DotEnv); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "failed to read "+path+": "))
	}
	if over {
		return nil, &Error{Path: path, Msg: tooLarge}
	}
	return vars, nil
}

// tooDeepNode is the first node below n (at depth) that nests deeper than
// maxNesting, or nil. yaml.v3 stops at 10 000 levels by itself; hpr's own
// walks of the document recurse, so it stops far sooner.
func tooDeepNode(n *yaml.Node, depth int) *yaml.Node {
	if depth > maxNesting {
		return n
	}
	for _, c := range n.Content {
		if d := tooDeepNode(c, depth+1); d != nil {
			return d
		}
	}
	return nil
}

// loopbackByDefault binds a port a project file publishes without an
// address to 127.0.0.1, as the devcontainer CLI does for forwardPorts:
// Docker's default, every interface, would let a cloned repository open a
// port of this machine to the network. A port given with -p keeps docker
// run's default.
func loopbackByDefault(p runtime.Port) runtime.Port {
	if p.HostIP == "" {
		p.HostIP = "127.0.0.1"
	}
	return p
}

// exposedPorts are the warnings for the ports p's files publish on an
// address other machines may reach, one line each.
func exposedPorts(p *Project) []string {
	var w []string
	for _, pt := range p.Run.Ports {
		a, err := netip.ParseAddr(pt.HostIP)
		if err == nil && a.IsLoopback() {
			continue
		}
		proto, _ := pt.Proto()
		host := strconv.Itoa(int(pt.HostPort))
		if pt.HostPort == 0 {
			host = "a port the engine picks"
		}
		w = append(w, fmt.Sprintf("%s publishes port %s on %s, which other machines may reach: give it 127.0.0.1 if only you need it", p.Path, host+"/"+proto, pt.HostIP))
	}
	return w
}
