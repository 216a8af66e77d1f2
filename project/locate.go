package project

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// The TOML library keeps key positions private, so errors found after
// parsing (unknown keys, bad values) would have no line. locate recovers
// them with a structural scan of the text: it understands headers, dotted
// and quoted keys, strings, arrays and inline tables well enough to tell
// where each key and each array element starts. It runs only to place an
// error, never decides validity, and gives up quietly (fewer positions, no
// panic) on text it does not understand.

// pos is where a key or array element starts. lead is true when nothing but
// blanks (and a header's '[') precedes it on its line, so the column adds
// nothing to the line number.
type pos struct {
	line, col int
	lead      bool
}

// posKey builds the locator's map key from a key path. Array elements are
// path segments made by elemSeg; a quoted key spelled the same way could
// only misplace an error message, never break anything.
func posKey(path []string) string { return strings.Join(path, "\x00") }

func elemSeg(i int) string { return "\x01" + strconv.Itoa(i) }

type locator struct {
	src       string
	i         int
	line      int
	lineStart int
	table     []string
	found     map[string]pos
}

// locate maps every key path (and array element) of src to its position.
func locate(src string) map[string]pos {
	l := &locator{src: src, line: 1, found: make(map[string]pos)}
	for l.i < len(l.src) {
		start := l.i
		l.skipTrivia()
		if l.eof() {
			break
		}
		if l.peek() == '[' {
			l.header()
		} else {
			l.keyValue(l.table)
		}
		l.skipLine()
		if l.i == start {
			l.adv() // never loop without progress
		}
	}
	return l.found
}

func (l *locator) eof() bool { return l.i >= len(l.src) }

func (l *locator) peek() byte {
	if l.i < len(l.src) {
		return l.src[l.i]
	}
	return 0
}

func (l *locator) peekAt(n int) byte {
	if l.i+n < len(l.src) {
		return l.src[l.i+n]
	}
	return 0
}

func (l *locator) adv() {
	if l.i >= len(l.src) {
		return
	}
	if l.src[l.i] == '\n' {
		l.line++
		l.lineStart = l.i + 1
	}
	l.i++
}

func (l *locator) here(extraLead string) pos {
	before := strings.TrimLeft(l.src[l.lineStart:l.i], " \t"+extraLead)
	return pos{line: l.line, col: l.i - l.lineStart + 1, lead: before == ""}
}

func (l *locator) record(path []string, p pos) {
	k := posKey(path)
	if _, ok := l.found[k]; !ok {
		l.found[k] = p
	}
}

func (l *locator) skipSpace() {
	for c := l.peek(); c == ' ' || c == '\t'; c = l.peek() {
		l.adv()
	}
}

// skipTrivia skips blanks, newlines and comments.
func (l *locator) skipTrivia() {
	for !l.eof() {
		switch l.peek() {
		case ' ', '\t', '\r', '\n':
			l.adv()
		case '#':
			l.skipLine()
		default:
			return
		}
	}
}

// skipLine skips to the start of the next line.
func (l *locator) skipLine() {
	for !l.eof() && l.peek() != '\n' {
		l.adv()
	}
	l.adv()
}

func (l *locator) header() {
	l.adv()
	array := l.peek() == '['
	if array {
		l.adv()
	}
	segs, ps := l.key("[")
	if len(segs) == 0 {
		return
	}
	for j := range segs {
		l.record(segs[:j+1], ps[j])
	}
	l.table = segs
}

// keyValue scans `key = value` relative to the table prefix.
func (l *locator) keyValue(prefix []string) bool {
	segs, ps := l.key("")
	if len(segs) == 0 {
		return false
	}
	full := make([]string, 0, len(prefix)+len(segs))
	full = append(full, prefix...)
	for j, s := range segs {
		full = append(full, s)
		l.record(full, ps[j])
	}
	l.skipSpace()
	if l.peek() != '=' {
		return false
	}
	l.adv()
	l.skipSpace()
	l.value(full)
	return true
}

// key scans a possibly dotted key and returns its segments and where each
// starts.
func (l *locator) key(extraLead string) ([]string, []pos) {
	var (
		segs []string
		ps   []pos
	)
	for {
		l.skipSpace()
		p := l.here(extraLead)
		extraLead = "" // only the first segment can follow '['
		var s string
		switch l.peek() {
		case '"':
			var ok bool
			if s, ok = l.basicString(); !ok {
				return segs, ps
			}
		case '\'':
			var ok bool
			if s, ok = l.literalString(); !ok {
				return segs, ps
			}
		default:
			start := l.i
			for !l.eof() && !strings.ContainsRune(" \t\r\n=.[]\"'{},#", rune(l.peek())) {
				l.adv()
			}
			if l.i == start {
				return segs, ps
			}
			s = l.src[start:l.i]
		}
		segs = append(segs, s)
		ps = append(ps, p)
		l.skipSpace()
		if l.peek() != '.' {
			return segs, ps
		}
		l.adv()
	}
}

// basicString scans a single-line "..." string and returns its value.
func (l *locator) basicString() (string, bool) {
	l.adv() // opening quote
	var b strings.Builder
	for !l.eof() {
		c := l.peek()
		switch c {
		case '"':
			l.adv()
			return b.String(), true
		case '\n':
			return b.String(), false
		case '\\':
			l.adv()
			e := l.peek()
			l.adv()
			switch e {
			case 'b':
				b.WriteByte('\b')
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'f':
				b.WriteByte('\f')
			case 'r':
				b.WriteByte('\r')
			case 'e':
				b.WriteByte(0x1b)
			case '"', '\\':
				b.WriteByte(e)
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				if l.i+n > len(l.src) {
					return b.String(), false
				}
				v, err := strconv.ParseUint(l.src[l.i:l.i+n], 16, 32)
				if err != nil {
					return b.String(), false
				}
				for range n {
					l.adv()
				}
				if v > utf8.MaxRune {
					return b.String(), false
				}
				b.WriteRune(rune(v))
			default:
				return b.String(), false
			}
		default:
			b.WriteByte(c)
			l.adv()
		}
	}
	return b.String(), false
}

// literalString scans a single-line '...' string.
func (l *locator) literalString() (string, bool) {
	l.adv()
	start := l.i
	for !l.eof() {
		switch l.peek() {
		case '\'':
			s := l.src[start:l.i]
			l.adv()
			return s, true
		case '\n':
			return "", false
		}
		l.adv()
	}
	return "", false
}

// multiline skips a multi-line string whose delimiter is three q; the
// opening delimiter has not been consumed.
func (l *locator) multiline(q byte) {
	for range 3 {
		l.adv()
	}
	for !l.eof() {
		c := l.peek()
		if c == '\\' && q == '"' {
			l.adv()
			l.adv()
			continue
		}
		if c == q && l.peekAt(1) == q && l.peekAt(2) == q {
			for range 3 {
				l.adv()
			}
			// Up to two more quotes belong to the content.
			for n := 0; n < 2 && l.peek() == q; n++ {
				l.adv()
			}
			return
		}
		l.adv()
	}
}

// maxDepth bounds the nesting of arrays and inline tables the locator
// follows, so that its recursion stays shallow whatever the input.
const maxDepth = 64

// value skips one value, recording the keys and elements inside it.
func (l *locator) value(path []string) {
	if len(path) > maxDepth {
		return
	}
	switch c := l.peek(); c {
	case '"', '\'':
		if l.peekAt(1) == c && l.peekAt(2) == c {
			l.multiline(c)
			return
		}
		if c == '"' {
			l.basicString()
		} else {
			l.literalString()
		}
	case '[':
		l.adv()
		for n := 0; ; n++ {
			l.skipTrivia()
			if l.eof() {
				return
			}
			if l.peek() == ']' {
				l.adv()
				return
			}
			elem := append(append([]string(nil), path...), elemSeg(n))
			l.record(elem, l.here(""))
			l.value(elem)
			l.skipTrivia()
			switch l.peek() {
			case ',':
				l.adv()
			case ']':
				l.adv()
				return
			default:
				return
			}
		}
	case '{':
		l.adv()
		for {
			l.skipTrivia()
			if l.eof() {
				return
			}
			if l.peek() == '}' {
				l.adv()
				return
			}
			if !l.keyValue(path) {
				return
			}
			l.skipTrivia()
			switch l.peek() {
			case ',':
				l.adv()
			case '}':
				l.adv()
				return
			default:
				return
			}
		}
	default:
		for !l.eof() && !strings.ContainsRune(",]}#\r\n", rune(l.peek())) {
			l.adv()
		}
	}
}
