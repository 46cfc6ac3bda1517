package oam

import (
	"fmt"
	"strconv"
	"strings"
)

// FieldError is one problem of a manifest: where it is and why it is refused.
type FieldError struct {
	// Path names the field, e.g. spec.components[1].traits[0].properties.target; "" for the
	// document as a whole (a YAML syntax error).
	Path string
	// Line is the 1-based line of the field in the parsed document; 0 when unknown (a manifest
	// built in Go, or changed after parsing).
	Line int
	// Reason says what is wrong, in words a user can act on.
	Reason string
}

// Error is "path (line N): reason", leaving out what is unknown.
func (e FieldError) Error() string {
	switch {
	case e.Path == "" && e.Line == 0:
		return e.Reason
	case e.Path == "":
		return "line " + strconv.Itoa(e.Line) + ": " + e.Reason
	case e.Line == 0:
		return e.Path + ": " + e.Reason
	default:
		return fmt.Sprintf("%s (line %d): %s", e.Path, e.Line, e.Reason)
	}
}

// ValidationError is every problem found in a manifest, in document order. Parse and Validate
// return it; use errors.As to reach the fields.
type ValidationError struct {
	Errors []FieldError
}

// Error is one line per problem.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		lines[i] = fe.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap gives the field errors to errors.As and errors.Is.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Errors))
	for i, fe := range e.Errors {
		errs[i] = fe
	}
	return errs
}

// Paths are built from field names and indexes: a.b, a[2], and a["odd key"] for map keys that
// are not plain words.

func fieldPath(path, key string) string {
	if !plainKey(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// parentPath strips the last step of a path; "" has no parent.
func parentPath(path string) string {
	if strings.HasSuffix(path, `"]`) {
		// A quoted key: every quote inside it is escaped, so the last `["` opens it.
		return path[:strings.LastIndex(path, `["`)]
	}
	if strings.HasSuffix(path, "]") {
		return path[:strings.LastIndexByte(path, '[')]
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

// under reports whether path is p or lies inside it.
func under(path, p string) bool {
	if p == "" || path == p {
		return true
	}
	return strings.HasPrefix(path, p) && (path[len(p)] == '.' || path[len(p)] == '[')
}

func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for _, r := range key {
		if !(r == '_' || r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return false
		}
	}
	return true
}
