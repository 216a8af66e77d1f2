package project

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoProject is returned (wrapped, naming the start directory) by Find
// when no hpr.toml exists in the directory or any of its parents.
var ErrNoProject = errors.New("no " + FileName + " found")

// Error is a problem in an hpr.toml. Its message is one line,
// "<path>:<line>: <what is wrong> (<fix>)", that editors and terminals can
// jump to.
type Error struct {
	// Path is the file's path as given to Load.
	Path string
	// Line is the 1-based line of the offending key or value; 0 when it
	// could not be placed.
	Line int
	// Col is the 1-based column when it adds to Line: syntax errors, array
	// elements and keys that do not start their line. 0 otherwise.
	Col int
	// Key is the dotted TOML key concerned ("run.ports"); empty for errors
	// that concern no key.
	Key string
	// Msg says what is wrong and, in parentheses, how to fix it.
	Msg string
}

// Error formats the error as one line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return unmark(oneLine(b.String()))
}

// unmark shows the UID and GID markers a value may hold as the file wrote
// them: private-use characters mean nothing to the reader. A message that
// quoted the value with %q holds them escaped.
func unmark(s string) string {
	if !hasMarker(s) && !strings.Contains(s, `\ue000`) {
		return s
	}
	return strings.NewReplacer(markUID, "${UID}", markGID, "${GID}",
		`\ue000UID\ue001`, "${UID}", `\ue000GID\ue001`, "${GID}").Replace(s)
}

// oneLine guards the one-line promise against text taken from the library
// or the file.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// before orders errors by position; unplaced errors come last.
func before(a, b *Error) bool {
	if (a.Line == 0) != (b.Line == 0) {
		return b.Line == 0
	}
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	return a.Col < b.Col
}
