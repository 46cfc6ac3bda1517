package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"slices"
	"strings"
	"unicode"

	"github.com/trellis-lattice/trellis/lattice"
)

// maxBody bounds a request body: commands are small.
const maxBody = 1 << 20

// apiError is an error answered as JSON {error, field}: Status is the HTTP status, Field the
// request field at fault, if one is, Msg the whole message.
type apiError struct {
	Status int
	Field  string
	Msg    string
}

func (e *apiError) Error() string { return e.Msg }

// badField is a 400 naming the field: "field: what is wrong".
func badField(field, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Field: field, Msg: field + ": " + fmt.Sprintf(format, args...)}
}

// decodeJSON reads a JSON object into v strictly: unknown fields, wrong types and trailing data
// are errors that name the field when there is one.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) *apiError {
	return decodeBody(w, r, v, false)
}

// decodeOptionalJSON is decodeJSON for commands whose fields are all optional: an empty body is
// an empty object. The Content-Type is required all the same.
func decodeOptionalJSON(w http.ResponseWriter, r *http.Request, v any) *apiError {
	return decodeBody(w, r, v, true)
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) *apiError {
	// Browsers send no simple cross-site request with this Content-Type, so only same-origin
	// scripts and API clients (curl -H …) get past this.
	if e := checkContentType(r, "application/json"); e != nil {
		return e
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if emptyOK && errors.Is(err, io.EOF) {
			return nil
		}
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &apiError{Status: http.StatusBadRequest, Msg: "request body: unexpected data after the JSON object"}
	}
	return nil
}

// checkContentType requires one of the media types.
func checkContentType(r *http.Request, want ...string) *apiError {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return &apiError{Status: http.StatusUnsupportedMediaType, Msg: "Content-Type: missing, want " + strings.Join(want, " or ")}
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !slices.Contains(want, mt) {
		return &apiError{Status: http.StatusUnsupportedMediaType, Msg: fmt.Sprintf("Content-Type %q: want %s", ct, strings.Join(want, " or "))}
	}
	return nil
}

// jsonError turns a decoding error into a message that names the field.
func jsonError(err error) *apiError {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		tooBig *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF):
		return &apiError{Status: http.StatusBadRequest, Msg: "request body: empty, want a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &apiError{Status: http.StatusBadRequest, Msg: "request body: JSON ends too early"}
	case errors.As(err, &syntax):
		return &apiError{Status: http.StatusBadRequest, Msg: fmt.Sprintf("request body: invalid JSON at byte %d: %v", syntax.Offset, err)}
	case errors.As(err, &typ):
		if typ.Field == "" {
			return &apiError{Status: http.StatusBadRequest, Msg: fmt.Sprintf("request body: want a JSON object, got %s", typ.Value)}
		}
		return badField(typ.Field, "want %s, got %s", jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.As(err, &tooBig):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("request body: larger than %d bytes", tooBig.Limit)}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return badField(strings.Trim(name, `"`), "unknown field")
	}
	return &apiError{Status: http.StatusBadRequest, Msg: "request body: " + err.Error()}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "true or false"
	}
	return goKind
}

// parseValues reads KEY=VALUE lines (link values, auction constraints): blank lines and lines
// starting with # are skipped; the key is trimmed and must be non-empty without white space; the
// value is everything after the first '=', trimmed. A key given twice is an error.
func parseValues(text string) (map[string]string, error) {
	out := map[string]string{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok:
			return nil, fmt.Errorf("line %d %q: want KEY=VALUE", i+1, line)
		case k == "":
			return nil, fmt.Errorf("line %d %q: empty key before '='", i+1, line)
		case strings.IndexFunc(k, unicode.IsSpace) >= 0:
			return nil, fmt.Errorf("line %d %q: key %q contains white space", i+1, line, k)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("line %d: key %q given twice", i+1, k)
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

// keyValues is a map field that may be given as an object of strings or as KEY=VALUE lines.
type keyValues map[string]string

// parse decodes raw (absent, null, a string of lines or an object of strings) for field.
func (kv *keyValues) parse(field string, raw json.RawMessage) *apiError {
	*kv = keyValues{}
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return badField(field, "%v", err)
		}
		m, err := parseValues(text)
		if err != nil {
			return badField(field, "%v", err)
		}
		*kv = m
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		return badField(field, "want KEY=VALUE lines or an object of strings")
	}
	for k := range m {
		if strings.TrimSpace(k) == "" {
			return badField(field, "empty key")
		}
	}
	*kv = m
	return nil
}

// requireKey checks a public key field of the given kind.
func requireKey(field string, kind lattice.KeyPrefix, v string) *apiError {
	if strings.TrimSpace(v) == "" {
		return badField(field, "required")
	}
	if err := lattice.CheckPublicKey(kind, v); err != nil {
		return badField(field, "%v", err)
	}
	return nil
}

// optionalKey checks a public key field that may be empty.
func optionalKey(field string, kind lattice.KeyPrefix, v string) *apiError {
	if v == "" {
		return nil
	}
	return requireKey(field, kind, v)
}

// count checks an instance count: absent gives def; min..65535.
func count(field string, n *int, def, lowest int) (uint16, *apiError) {
	if n == nil {
		return uint16(def), nil
	}
	if *n < lowest || *n > math.MaxUint16 {
		return 0, badField(field, "%d: want %d to %d", *n, lowest, math.MaxUint16)
	}
	return uint16(*n), nil
}

// startActorRequest is POST /api/actors.
type startActorRequest struct {
	Ref         string          `json:"ref"`
	HostID      string          `json:"host_id"`
	Count       *int            `json:"count"`
	Constraints json.RawMessage `json:"constraints"`
}

// scaleActorRequest is POST /api/actors/scale.
type scaleActorRequest struct {
	ActorID string `json:"actor_id"`
	HostID  string `json:"host_id"`
	Count   *int   `json:"count"`
	Ref     string `json:"ref"`
}

// stopActorRequest is POST /api/actors/stop; count 0 or absent stops every instance.
type stopActorRequest struct {
	ActorID string `json:"actor_id"`
	HostID  string `json:"host_id"`
	Count   *int   `json:"count"`
}

// updateActorRequest is POST /api/actors/update; no host_id updates every host running the actor.
type updateActorRequest struct {
	ActorID string `json:"actor_id"`
	Ref     string `json:"ref"`
	HostID  string `json:"host_id"`
}

// startProviderRequest is POST /api/providers.
type startProviderRequest struct {
	Ref         string          `json:"ref"`
	LinkName    string          `json:"link_name"`
	HostID      string          `json:"host_id"`
	Config      string          `json:"config"`
	Constraints json.RawMessage `json:"constraints"`
}

// stopProviderRequest is POST /api/providers/stop.
type stopProviderRequest struct {
	ProviderID string `json:"provider_id"`
	LinkName   string `json:"link_name"`
	ContractID string `json:"contract_id"`
	HostID     string `json:"host_id"`
}

// putLinkRequest is POST /api/links.
type putLinkRequest struct {
	ActorID    string          `json:"actor_id"`
	ProviderID string          `json:"provider_id"`
	ContractID string          `json:"contract_id"`
	LinkName   string          `json:"link_name"`
	Values     json.RawMessage `json:"values"`
}

// deleteLinkRequest is DELETE /api/links (or POST /api/links/delete).
type deleteLinkRequest struct {
	ActorID    string `json:"actor_id"`
	ContractID string `json:"contract_id"`
	LinkName   string `json:"link_name"`
}

// checkRef checks a reference field: an OCI reference or a file path, one line.
func checkRef(field, ref string) *apiError {
	switch {
	case strings.TrimSpace(ref) == "":
		return badField(field, "required: an OCI reference (registry/repo:tag) or a file path the host can read")
	case strings.ContainsAny(ref, "\r\n\x00"):
		return badField(field, "must be one line")
	case len(ref) > 4096:
		return badField(field, "longer than 4096 bytes")
	}
	return nil
}

// checkConfig checks a provider's configuration: empty or JSON.
func checkConfig(field, config string) *apiError {
	if strings.TrimSpace(config) == "" {
		return nil
	}
	if !json.Valid([]byte(config)) {
		return badField(field, "not valid JSON")
	}
	return nil
}
