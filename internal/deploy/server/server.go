// Package server exposes an engine over the Open Inference Protocol (KServe
// v2 REST, with Triton's binary tensor, repository and statistics
// extensions), plus /metrics. It owns HTTP concerns only: routing, limits,
// authentication, status codes, request logs and metrics; models live in
// package engine.
package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mlops-dev/mlops/internal/deploy/engine"
	"github.com/mlops-dev/mlops/internal/deploy/oip"
)

// Name is the server name reported by GET /v2.
const Name = "mlops"

// Extensions are the protocol extensions this server implements.
var Extensions = []string{"binary_data_tensor", "model_repository", "statistics"}

// PayloadSink receives sampled requests and responses (see package payload).
type PayloadSink interface {
	Log(rec PayloadRecord)
}

// PayloadRecord is one request/response pair for the payload log.
type PayloadRecord struct {
	Time      time.Time
	RequestID string
	Model     string
	Version   string
	Inputs    []*oip.Tensor
	Outputs   []*oip.Tensor
	Status    int
	Duration  time.Duration
}

// Config configures a Server.
type Config struct {
	Engine  *engine.Engine
	Metrics *Metrics
	Logger  *slog.Logger
	// Version is reported by GET /v2.
	Version string
	// AuthToken, when set, is required as "Authorization: Bearer <token>" on
	// every endpoint except health and /metrics (probes and scrapers).
	AuthToken string
	// MaxRequestBytes bounds request bodies (413 over it).
	MaxRequestBytes int64
	// RequestTimeout bounds one inference, queueing included (504 over it).
	RequestTimeout time.Duration
	// Payloads, when set, receives sampled requests.
	Payloads PayloadSink
	// StrictReadiness makes /v2/health/ready 503 until every model serves;
	// without it the server is ready while at least one model serves, so a
	// model that failed to load does not take the others out of a load
	// balancer (its own endpoints answer 503 with the reason).
	StrictReadiness bool
}

// Server is the HTTP front of an engine.
type Server struct {
	cfg      Config
	log      *slog.Logger
	draining atomic.Bool
	nextID   atomic.Uint64
}

// New builds a server; Handler returns its routes.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = 64 << 20
	}
	return &Server{cfg: cfg, log: cfg.Logger}
}

// Drain marks the server as shutting down: readiness turns false so load
// balancers stop sending traffic, while requests already accepted finish.
func (s *Server) Drain() { s.draining.Store(true) }

// Handler routes every endpoint.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /v2/health/ready", s.serverReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Metrics.Registry, promhttp.HandlerOpts{}))

	auth := http.NewServeMux()
	auth.HandleFunc("GET /v2", s.serverMetadata)
	auth.HandleFunc("GET /v2/models/{model}", s.modelMetadata)
	auth.HandleFunc("GET /v2/models/{model}/versions/{version}", s.modelMetadata)
	auth.HandleFunc("GET /v2/models/{model}/ready", s.modelReady)
	auth.HandleFunc("GET /v2/models/{model}/versions/{version}/ready", s.modelReady)
	auth.HandleFunc("POST /v2/models/{model}/infer", s.infer)
	auth.HandleFunc("POST /v2/models/{model}/versions/{version}/infer", s.infer)
	auth.HandleFunc("GET /v2/models/stats", s.stats)
	auth.HandleFunc("GET /v2/models/{model}/stats", s.stats)
	auth.HandleFunc("GET /v2/models/{model}/versions/{version}/stats", s.stats)
	auth.HandleFunc("POST /v2/repository/index", s.index)
	auth.HandleFunc("POST /v2/repository/models/{model}/load", s.load)
	auth.HandleFunc("POST /v2/repository/models/{model}/unload", s.unload)
	auth.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, oip.Errorf(http.StatusNotFound, "no endpoint %s %s; see the Open Inference Protocol (GET /v2, POST /v2/models/{model}/infer, ...)", r.Method, r.URL.Path))
	})
	mux.Handle("/", s.authenticate(auth))
	return mux
}

func (s *Server) authenticate(next http.Handler) http.Handler {
	if s.cfg.AuthToken == "" {
		return next
	}
	want := []byte("Bearer " + s.cfg.AuthToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mlops"`)
			writeError(w, oip.Errorf(http.StatusUnauthorized, "missing or wrong bearer token: send Authorization: Bearer <token from --auth-token-file>"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the response failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError renders err as {"error": "..."} with its status (500 for
// errors that carry none).
func writeError(w http.ResponseWriter, err error) int {
	status := statusOf(err)
	if status == http.StatusServiceUnavailable && errors.Is(err, engine.ErrQueueFull) {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
	return status
}

func statusOf(err error) int {
	var pe *oip.Error
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &pe):
		return pe.Status
	case errors.As(err, &mb):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, engine.ErrQueueFull):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

func (s *Server) serverReady(w http.ResponseWriter, r *http.Request) {
	eng := s.cfg.Engine
	switch {
	case s.draining.Load():
		writeError(w, oip.Errorf(http.StatusServiceUnavailable, "shutting down"))
	case !eng.AnyReady() || (s.cfg.StrictReadiness && !eng.AllReady()):
		writeError(w, oip.Errorf(http.StatusServiceUnavailable, "%s", unavailableSummary(eng.Unavailable())))
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// unavailableSummary names the models that do not serve and why.
func unavailableSummary(models []engine.IndexEntry) string {
	if len(models) == 0 {
		return "no model is serving"
	}
	var b strings.Builder
	b.WriteString("not serving: ")
	for i, m := range models {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s (%s)", m.Name, m.Reason)
	}
	return b.String()
}

func (s *Server) serverMetadata(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"name": Name, "version": s.cfg.Version, "extensions": Extensions})
}

type modelMetadataJSON struct {
	Name     string              `json:"name"`
	Versions []string            `json:"versions,omitempty"`
	Platform string              `json:"platform"`
	Inputs   []engine.TensorMeta `json:"inputs"`
	Outputs  []engine.TensorMeta `json:"outputs"`
}

func (s *Server) modelMetadata(w http.ResponseWriter, r *http.Request) {
	name, ver := r.PathValue("model"), r.PathValue("version")
	md, err := s.cfg.Engine.Metadata(name, ver)
	if err != nil {
		writeError(w, err)
		return
	}
	versions, _ := s.cfg.Engine.Versions(name)
	writeJSON(w, http.StatusOK, modelMetadataJSON{Name: md.Name, Versions: versions, Platform: md.Platform, Inputs: md.Inputs, Outputs: md.Outputs})
}

func (s *Server) modelReady(w http.ResponseWriter, r *http.Request) {
	if _, err := s.cfg.Engine.Ready(r.PathValue("model"), r.PathValue("version")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	st, err := s.cfg.Engine.Stats(r.PathValue("model"), r.PathValue("version"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"model_stats": st})
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.cfg.Engine.Index())
}

func (s *Server) load(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("model")
	changed, err := s.cfg.Engine.Load(r.Context(), name)
	if err != nil {
		if statusOf(err) == http.StatusInternalServerError {
			err = oip.Errorf(http.StatusBadRequest, "load %s failed (the previous version, if any, keeps serving): %v", name, err)
		}
		writeError(w, err)
		return
	}
	s.log.Info("repository load", "model", name, "changed", changed)
	w.WriteHeader(http.StatusOK)
}

func (s *Server) unload(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Engine.Unload(r.PathValue("model")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) infer(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	name, ver := r.PathValue("model"), r.PathValue("version")
	inflight := s.cfg.Metrics.inflight.WithLabelValues(name)
	inflight.Inc()
	defer inflight.Dec()

	ctx := r.Context()
	if s.cfg.RequestTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.RequestTimeout)
		defer cancel()
	}
	var (
		req  *oip.InferRequest
		resp *oip.InferResponse
		info engine.InferInfo
		err  error
	)
	req, err = s.readRequest(w, r)
	if err == nil {
		resp, info, err = s.cfg.Engine.Infer(ctx, name, ver, req)
	}
	status := http.StatusOK
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = oip.Errorf(http.StatusGatewayTimeout, "inference on %s took longer than the %s request timeout", name, s.cfg.RequestTimeout)
		}
		status = writeError(w, err)
	} else {
		body, hl := resp.Encode()
		if hl >= 0 {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set(oip.HeaderContentLength, strconv.Itoa(hl))
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}
	s.finish(r, name, req, resp, info, status, err, time.Since(start))
}

func (s *Server) readRequest(w http.ResponseWriter, r *http.Request) (*oip.InferRequest, error) {
	if r.ContentLength > s.cfg.MaxRequestBytes {
		return nil, oip.Errorf(http.StatusRequestEntityTooLarge, "request body of %d bytes is over the %d-byte limit (--max-request-bytes)", r.ContentLength, s.cfg.MaxRequestBytes)
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, s.cfg.MaxRequestBytes), r.ContentLength)
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, oip.Errorf(http.StatusRequestEntityTooLarge, "request body is over the %d-byte limit (--max-request-bytes)", s.cfg.MaxRequestBytes)
		}
		return nil, oip.BadRequest("reading the request body: %v", err)
	}
	headerLen := -1
	if h := r.Header.Get(oip.HeaderContentLength); h != "" {
		headerLen, err = strconv.Atoi(h)
		if err != nil || headerLen < 0 {
			return nil, oip.BadRequest("%s must be a non-negative integer, got %q", oip.HeaderContentLength, h)
		}
	}
	return oip.DecodeRequest(body, headerLen)
}

// readBody reads a whole request body. With a Content-Length (which
// net/http holds the body to, and which the caller has checked against the
// limit) it is read into one buffer of that size, instead of io.ReadAll's
// doubling, which copies a large tensor payload several times over.
func readBody(body io.Reader, contentLength int64) ([]byte, error) {
	if contentLength <= 0 {
		return io.ReadAll(body)
	}
	buf := make([]byte, contentLength)
	if _, err := io.ReadFull(body, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("body ended before its Content-Length of %d bytes: %w", contentLength, err)
		}
		return nil, err
	}
	return buf, nil
}

func outcomeOf(status int, err error) string {
	switch {
	case err == nil:
		return "success"
	case errors.Is(err, engine.ErrQueueFull):
		return "rejected"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case status == http.StatusGatewayTimeout:
		return "timeout"
	case status < 500:
		return "invalid"
	}
	return "error"
}

func (s *Server) finish(r *http.Request, name string, req *oip.InferRequest, resp *oip.InferResponse, info engine.InferInfo, status int, err error, total time.Duration) {
	outcome := outcomeOf(status, err)
	version := info.Version
	if version == "" {
		version = "unknown"
	}
	s.cfg.Metrics.observeRequest(name, version, outcome, total, info, resp)
	id := ""
	if req != nil {
		id = req.ID
	}
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		attrs := []slog.Attr{slog.String("request_id", id), slog.String("model", name), slog.String("version", version),
			slog.Int("status", status), slog.String("outcome", outcome), slog.Float64("duration_ms", ms(total)),
			slog.Float64("queue_ms", ms(info.Queue)), slog.Float64("compute_ms", ms(info.Compute)), slog.Int("batch_rows", info.Rows)}
		if err != nil {
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "infer", attrs...)
	}
	if s.cfg.Payloads != nil && req != nil {
		if id == "" {
			id = fmt.Sprintf("mlops-%d-%d", time.Now().UnixNano(), s.nextID.Add(1))
		}
		// ts is when the request arrived (docs/payload-log.md); version may be
		// empty when no version was chosen (unknown model, validation error).
		rec := PayloadRecord{Time: time.Now().Add(-total), RequestID: id, Model: name, Version: info.Version, Inputs: req.Inputs, Status: status, Duration: total}
		if resp != nil {
			rec.Outputs = resp.Outputs
		}
		s.cfg.Payloads.Log(rec)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
