package httpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	contract "github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/providers"
)

// ServeHTTP turns one HTTP request into an HttpServer.HandleRequest invocation of the actor.
//
// Request: method (upper case), path (as sent, still escaped), queryString (raw, without "?"),
// header (names lower-cased as upstream's hyper sends them, "host" included; values that are not
// visible ASCII are dropped, as upstream does), body. Response: the actor's status (0 means 200;
// outside 100–599 is a 500), headers (invalid ones dropped; Content-Length recomputed) and body.
// The actor answering with an error is a 500, not answering in time or not running a 503, a body
// over max_content_len a 413, a method other than GET/HEAD in readonly mode a 405.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r) {
		return
	}
	if !s.settings.allowsMethod(r.Method) {
		w.Header().Set("Allow", "GET, HEAD")
		plain(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: this listener is read-only")
		return
	}
	limit := s.settings.MaxContentLen
	if r.ContentLength > limit {
		plain(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body of %d bytes is over the limit of %d", r.ContentLength, limit))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			plain(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is over the limit of %d bytes", limit))
			return
		}
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			plain(w, http.StatusRequestTimeout, fmt.Sprintf("request body not read within %s (%s)", s.settings.ReadBodyTimeout, KeyReadBodyTimeout))
			return
		}
		plain(w, http.StatusBadRequest, "could not read the request body")
		return
	}

	req := contract.HttpRequest{
		Method:      strings.ToUpper(r.Method),
		Path:        r.URL.EscapedPath(),
		QueryString: r.URL.RawQuery,
		Header:      requestHeader(r),
		Body:        body,
	}
	msg, err := req.Encode()
	if err != nil {
		s.log.Error().Err(err).Msg("encode http request")
		plain(w, http.StatusInternalServerError, "could not encode the request for the actor")
		return
	}
	ctx := r.Context()
	if s.settings.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.settings.Timeout)
		defer cancel()
	}
	out, err := s.caller.CallActor(ctx, s.actorID, contract.OpHandleRequest, msg)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		s.log.Warn().Err(err).Str("path", req.Path).Msg("actor did not answer in time: 503")
		plain(w, http.StatusServiceUnavailable, "the actor did not answer in time")
		return
	case errors.Is(err, providers.ErrActorNotFound):
		s.log.Warn().Err(err).Str("path", req.Path).Msg("actor not running: 503")
		plain(w, http.StatusServiceUnavailable, "the actor is not running")
		return
	case r.Context().Err() != nil:
		return // the client went away
	case err != nil:
		s.log.Warn().Err(err).Str("path", req.Path).Msg("actor failed: 500")
		plain(w, http.StatusInternalServerError, "the actor failed to handle the request")
		return
	}
	resp, err := contract.DecodeResponse(out)
	if err != nil {
		s.log.Warn().Err(err).Msg("malformed response from actor: 500")
		plain(w, http.StatusInternalServerError, "the actor sent a malformed response")
		return
	}
	s.write(w, r, resp)
}

func (s *server) write(w http.ResponseWriter, r *http.Request, resp contract.HttpResponse) {
	status := int(resp.StatusCode)
	if status == 0 {
		status = http.StatusOK
	}
	if status < 100 || status > 599 {
		s.log.Warn().Int("status", status).Msg("actor answered an invalid status code: 500")
		status = http.StatusInternalServerError
	}
	h := w.Header()
	for name, values := range resp.Header {
		if !isToken(name) {
			s.log.Debug().Str("header", name).Msg("dropping response header with an invalid name")
			continue
		}
		switch strings.ToLower(name) {
		case "content-length", "transfer-encoding", "connection":
			continue // net/http frames the body itself
		}
		for _, v := range values {
			if !validHeaderValue(v) {
				s.log.Debug().Str("header", name).Msg("dropping response header with an invalid value")
				continue
			}
			h.Add(name, v)
		}
	}
	if s.settings.CacheControl != "" && h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", s.settings.CacheControl)
	}
	if status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified {
		h.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead && len(resp.Body) > 0 {
		_, _ = w.Write(resp.Body)
	}
}

// requestHeader maps the request's headers as upstream does: names lower-cased, values that are
// not visible ASCII dropped, plus "host".
func requestHeader(r *http.Request) contract.HeaderMap {
	out := make(contract.HeaderMap, len(r.Header)+1)
	for name, values := range r.Header {
		var keep []string
		for _, v := range values {
			if validHeaderValue(v) {
				keep = append(keep, v)
			}
		}
		if len(keep) > 0 {
			lk := strings.ToLower(name)
			out[lk] = append(out[lk], keep...)
		}
	}
	if r.Host != "" && validHeaderValue(r.Host) {
		out["host"] = []string{r.Host}
	}
	return out
}

// cors applies the CORS policy to requests with an Origin header, as upstream's warp filter does:
// a preflight is answered here (200, or 403 when the origin, method or headers are not allowed);
// an actual request from a disallowed origin or with a disallowed method gets 403; an allowed one
// gets Access-Control-Allow-Origin (and Expose-Headers) and goes on. It reports whether the
// request was answered.
func (s *server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	c := s.settings.CORS
	h := w.Header()
	h.Add("Vary", "Origin")
	if !originAllowed(c.AllowedOrigins, origin) {
		plain(w, http.StatusForbidden, "CORS request forbidden: origin not allowed")
		return true
	}
	reqMethod := r.Header.Get("Access-Control-Request-Method")
	if r.Method == http.MethodOptions && reqMethod != "" {
		if !containsFold(c.AllowedMethods, reqMethod) {
			plain(w, http.StatusForbidden, "CORS request forbidden: method not allowed")
			return true
		}
		for _, hdr := range strings.Split(r.Header.Get("Access-Control-Request-Headers"), ",") {
			if hdr = strings.TrimSpace(hdr); hdr != "" && !containsFold(c.AllowedHeaders, hdr) {
				plain(w, http.StatusForbidden, "CORS request forbidden: header "+hdr+" not allowed")
				return true
			}
		}
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Methods", strings.Join(c.AllowedMethods, ", "))
		if len(c.AllowedHeaders) > 0 {
			h.Set("Access-Control-Allow-Headers", strings.Join(c.AllowedHeaders, ", "))
		}
		if c.MaxAge > 0 {
			h.Set("Access-Control-Max-Age", strconv.Itoa(int(c.MaxAge.Seconds())))
		}
		w.WriteHeader(http.StatusOK)
		return true
	}
	if !containsFold(c.AllowedMethods, r.Method) {
		plain(w, http.StatusForbidden, "CORS request forbidden: method not allowed")
		return true
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if len(c.ExposedHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposedHeaders, ", "))
	}
	return false
}

func originAllowed(allowed []string, origin string) bool {
	if len(allowed) == 0 {
		return true
	}
	o := normalizeOrigin(origin)
	for _, a := range allowed {
		if a == "*" || normalizeOrigin(a) == o {
			return true
		}
	}
	return false
}

func containsFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// plain writes a short text answer generated by the provider itself.
func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// newStdLogger adapts zerolog for net/http's error log.
func newStdLogger(l zerolog.Logger) *log.Logger {
	return log.New(zerologWriter{l}, "", 0)
}

type zerologWriter struct{ l zerolog.Logger }

func (z zerologWriter) Write(p []byte) (int, error) {
	z.l.Debug().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
