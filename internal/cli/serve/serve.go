// Package serve implements `mlops serve`: one or more ONNX models behind the
// Open Inference Protocol (KServe v2 REST) with dynamic batching, hot reload,
// canary routing, Prometheus metrics and payload logging.
package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/buildinfo"
	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/deploy/engine"
	"github.com/mlops-dev/mlops/internal/deploy/ortbackend"
	"github.com/mlops-dev/mlops/internal/deploy/payload"
	"github.com/mlops-dev/mlops/internal/deploy/server"
	"github.com/mlops-dev/mlops/internal/registry"
	"github.com/mlops-dev/mlops/internal/runtime"
	"github.com/mlops-dev/mlops/internal/safefile"
)

// KeyRegistry is the registry URL key (shared with the registry commands).
const KeyRegistry = "registry"

// ServeOptions are the inputs of `mlops serve`.
type ServeOptions struct {
	IO           *cmdutil.IOStreams
	OpenRegistry func(context.Context, string, registry.Options) (*registry.Registry, error)
	Runtime      func() (*runtime.Runtime, error)
	// Loader replaces the ONNX Runtime loader in tests.
	Loader engine.Loader

	Models          []string
	Registry        string // --registry URL for model references
	Addr            string
	AddrFile        string
	Instances       int
	IntraOpThreads  int
	MaxBatchSize    int
	MaxQueueDelay   time.Duration
	QueueSize       int
	Poll            time.Duration
	Canary          []string
	MaxRequestBytes int64
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	RequestTimeout  time.Duration
	ShutdownTimeout time.Duration
	AuthTokenFile   string
	TLSCert         string
	TLSKey          string
	LogPayloads     string
	LogSample       float64
	LogPayloadsGzip bool
	LogLevel        string
	CPUArena        string
	WarmupShapes    []string // [MODEL/]INPUT=DIMS
	NoWarmup        bool
	MaxDims         []string // N or [MODEL/]INPUT=D0,D1,...
	MaxElements     int64
	StrictReadiness bool
}

// NewCmdServe builds `mlops serve`.
func NewCmdServe(f *cmdutil.Factory, runF func(*ServeOptions) error) *cobra.Command {
	opts := &ServeOptions{IO: f.IO}
	f.DeclareConfig(cmdutil.ConfigKey{Name: KeyRegistry, Default: "",
		Help: "URL of the model registry (file://, s3://, gs://, azblob://, mem://)"})
	cmd := &cobra.Command{
		Annotations: map[string]string{cmdutil.AnnotationRunsUntilSignal: "Ctrl-C or SIGTERM is how serve stops"},
		Use:         "serve MODEL... [flags]",
		Short:       "Serve ONNX models over the KServe v2 / Open Inference Protocol",
		Long: `Serve one or more ONNX models with ONNX Runtime over the Open Inference
Protocol (KServe v2 REST), the protocol Triton, KServe and MLServer speak.

A MODEL is a file path (served under the file's base name), NAME=PATH, or a
registry reference NAME, NAME@VERSION or NAME@ALIAS (pulled from the registry
given by --registry, MLOPS_REGISTRY or the registry config key — by default the
local file registry that push uses — into the user cache).

Endpoints: GET /v2/health/live, /v2/health/ready, /v2, /v2/models/{m}[/versions/{v}],
.../ready, POST .../infer (JSON, and the binary tensor extension with
Inference-Header-Content-Length), POST /v2/repository/index,
/v2/repository/models/{m}/load and /unload, GET /v2/models[/{m}[/versions/{v}]]/stats,
and GET /metrics (Prometheus). Errors are {"error": "..."}.

Requests to the same model are merged along the first (batch) dimension when
the model's first dimension is dynamic, up to --max-batch-size rows or
--max-queue-delay of waiting. --instances batches run at once per model. When
--queue-size requests wait, new ones get 503 with Retry-After.

Warm-up: every model version runs once on zeros before it serves. Inputs get
the shape --warmup-shape [MODEL/]INPUT=DIMS gives, else the model's
metadata_props hint mlops.warmup_shape.INPUT=DIMS, else a search: dynamic
dimensions 1, then larger powers of two (the sequence first, batch last) until
a run succeeds. --no-warmup skips it.

A model that fails to load (or to warm up) is logged and marked UNAVAILABLE:
its endpoints answer 503 with the reason while the other models serve, and
/v2/health/ready stays 200 while at least one model serves (--strict-readiness:
only while all do). serve exits 1 only when no model loads.

Limits: --max-dims N caps every dynamic dimension of a request's inputs,
--max-dims [MODEL/]INPUT=D0,D1,... caps the dimensions of one input (-1: no
cap), --max-elements caps the elements of one input; a request over them gets
a 400 naming the input and the limit. After each run ONNX Runtime frees the
memory its arena no longer uses (--cpu-arena shrink, the default), so one
large request does not keep the server's memory at its peak.

Reload: POST /v2/repository/models/{m}/load, or --poll for registry aliases,
loads and warms the new version beside the old one, swaps atomically and
drains the old one; a failed load keeps the old version serving (logged, and
counted in mlops_serve_model_loads_total{outcome="failure"}).

The server listens on 127.0.0.1:8080 (loopback only) unless --addr says
otherwise. With --auth-token-file every endpoint except /v2/health/* and
/metrics needs "Authorization: Bearer <token>". SIGINT/SIGTERM stop accepting
connections, finish in-flight requests within --shutdown-timeout and exit 0.

Logs are JSON lines (slog) on stderr; --log-level debug adds one line per
request with request_id, model, version, status and durations.

serve exits 0 after a graceful shutdown, 1 when no model can be loaded or
the address cannot be bound, 2 on bad flags.`,
		Example: `  mlops serve model.onnx
  mlops serve fmnist=testdata/fmnist/mlp.onnx --max-batch-size 32 --max-queue-delay 2ms
  mlops serve fmnist@production --poll 30s --canary fmnist@4=10%
  mlops serve vad=silero_vad.onnx --warmup-shape vad/input=1,576 --max-dims vad/input=-1,16000
  mlops serve fmnist@production --addr 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem \
      --auth-token-file /run/secrets/token --log-payloads s3://bucket/payloads --log-sample 0.1
  curl -s localhost:8080/v2/models/fmnist/infer -d @request.json`,
		Args: cmdutil.RangeArgs(1, 64, "MODEL..."),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Models = args
			opts.OpenRegistry = f.Registry
			opts.Runtime = f.Runtime
			if runF != nil {
				return runF(opts)
			}
			return serveRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Registry, "registry", "", "registry for NAME[@VERSION|@ALIAS] models (also: MLOPS_REGISTRY, config key registry; default: the local file registry)")
	fl.StringVar(&opts.Addr, "addr", "127.0.0.1:8080", "HOST:PORT to listen on (0.0.0.0:8080 to expose; port 0 picks a free one)")
	fl.StringVar(&opts.AddrFile, "addr-file", "", "write the bound address to this file once serving (for scripts with port 0)")
	fl.IntVar(&opts.Instances, "instances", 0, "batches run at once per model (default: from the CPU count)")
	fl.IntVar(&opts.IntraOpThreads, "intra-op-threads", 0, "ONNX Runtime threads per run (default: cores / instances)")
	fl.IntVar(&opts.MaxBatchSize, "max-batch-size", 32, "largest merged batch in rows; 1 disables dynamic batching")
	fl.DurationVar(&opts.MaxQueueDelay, "max-queue-delay", 0, "how long to wait for more requests to fill a batch (0: merge only what is queued)")
	fl.IntVar(&opts.QueueSize, "queue-size", 256, "requests that may wait per model version before 503")
	fl.DurationVar(&opts.Poll, "poll", 0, "re-resolve every model reference this often and reload when it changed (e.g. 30s; 0 disables)")
	fl.StringArrayVar(&opts.Canary, "canary", nil, "route a share of a model's traffic to another version: REF=PERCENT% (e.g. fmnist@4=10%)")
	fl.Int64Var(&opts.MaxRequestBytes, "max-request-bytes", 64<<20, "largest request body; larger ones get 413")
	fl.DurationVar(&opts.ReadTimeout, "read-timeout", 30*time.Second, "time to read a whole request")
	fl.DurationVar(&opts.WriteTimeout, "write-timeout", 60*time.Second, "time from the end of the request headers to the end of the response")
	fl.DurationVar(&opts.RequestTimeout, "request-timeout", 30*time.Second, "time one inference may take, queueing included (504 after)")
	fl.DurationVar(&opts.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "time in-flight requests get to finish after SIGTERM")
	fl.StringVar(&opts.AuthTokenFile, "auth-token-file", "", "file holding a bearer token clients must send")
	fl.StringVar(&opts.TLSCert, "tls-cert", "", "TLS certificate (PEM); with --tls-key serves HTTPS")
	fl.StringVar(&opts.TLSKey, "tls-key", "", "TLS private key (PEM)")
	fl.StringVar(&opts.LogPayloads, "log-payloads", "", "write sampled requests and responses to this folder or blob URL (s3://, gs://, azblob://, file://)")
	fl.Float64Var(&opts.LogSample, "log-sample", 1, "share of requests --log-payloads keeps, in (0, 1]")
	fl.BoolVar(&opts.LogPayloadsGzip, "log-payloads-gzip", true, "gzip payload log files (.jsonl.gz)")
	fl.StringVar(&opts.LogLevel, "log-level", "info", "log level: debug (one line per request), info, warn, error")
	fl.StringArrayVar(&opts.WarmupShapes, "warmup-shape", nil, "warm an input up with this shape: [MODEL/]INPUT=DIMS, e.g. vad/input=1,576 (repeatable)")
	fl.BoolVar(&opts.NoWarmup, "no-warmup", false, "load models without a warm-up run (a model that cannot run then fails its requests, not its load)")
	fl.StringArrayVar(&opts.MaxDims, "max-dims", nil, "largest dynamic dimension a request may send: N for every input, or [MODEL/]INPUT=D0,D1,... per dimension (-1: no cap) (repeatable)")
	fl.Int64Var(&opts.MaxElements, "max-elements", 0, "largest element count of one request input (0: no limit beyond --max-request-bytes)")
	fl.BoolVar(&opts.StrictReadiness, "strict-readiness", false, "report the server ready only while every model serves (default: while at least one does)")
	fl.StringVar(&opts.CPUArena, "cpu-arena", defaultArena, "ONNX Runtime CPU memory arena: shrink (give memory back after each run), off, or keep (hold the largest run's memory)")
	cmd.ValidArgsFunction = cmdutil.ModelRefArgs(f, 0, cmdutil.RefAny, true)
	cmdutil.CompleteEnum(cmd, "cpu-arena", "shrink", "off", "keep")
	cmdutil.CompleteEnum(cmd, "log-level", "debug", "info", "warn", "error")
	return cmd
}

func (o *ServeOptions) validate() error {
	if o.TLSCert != "" && o.TLSKey == "" {
		return cmdutil.FlagErrorf("--tls-cert needs --tls-key (the certificate's private key)")
	}
	if o.TLSKey != "" && o.TLSCert == "" {
		return cmdutil.FlagErrorf("--tls-key needs --tls-cert (the certificate it belongs to)")
	}
	if _, port, err := net.SplitHostPort(o.Addr); err != nil {
		return cmdutil.FlagErrorf("--addr %q: want HOST:PORT, e.g. 127.0.0.1:8080 (:8080 for every interface, port 0 for a free one)", o.Addr)
	} else if _, err := net.LookupPort("tcp", port); err != nil {
		return cmdutil.FlagErrorf("--addr %q: the port must be a number from 0 to 65535 (or a service name)", o.Addr)
	}
	if err := cmdutil.FirstError(
		cmdutil.Positive(cmdutil.Flag("max-batch-size", o.MaxBatchSize), cmdutil.Flag("queue-size", o.QueueSize)),
		cmdutil.Positive(cmdutil.Flag("max-request-bytes", o.MaxRequestBytes)),
		cmdutil.NotNegative(cmdutil.Flag("instances", o.Instances), cmdutil.Flag("intra-op-threads", o.IntraOpThreads)),
	); err != nil {
		return err
	}
	if o.LogPayloads != "" && (o.LogSample <= 0 || o.LogSample > 1) {
		return cmdutil.FlagErrorf("--log-sample %g must be in (0, 1]", o.LogSample)
	}
	if o.LogPayloads != "" && !strings.Contains(o.LogPayloads, "://") {
		if err := cmdutil.CheckOutputDir("--log-payloads", o.LogPayloads); err != nil {
			return err
		}
	}
	if _, err := parseLevel(o.LogLevel); err != nil {
		return err
	}
	if _, err := o.arena(); err != nil {
		return err
	}
	if o.MaxElements < 0 {
		return cmdutil.FlagErrorf("--max-elements %d must be 0 (no limit) or positive", o.MaxElements)
	}
	if _, err := o.warmup(); err != nil {
		return err
	}
	if _, err := o.limits(); err != nil {
		return err
	}
	if o.AddrFile != "" {
		// Rewritten at every start; refused when it is not a regular file.
		if err := cmdutil.CheckOutput("--addr-file", o.AddrFile, true); err != nil {
			return err
		}
	}
	return nil
}

// warmup parses --warmup-shape and --no-warmup.
func (o *ServeOptions) warmup() (engine.Warmup, error) {
	w := engine.Warmup{Disabled: o.NoWarmup, Shapes: map[string][]int64{}}
	if o.NoWarmup && len(o.WarmupShapes) > 0 {
		return w, cmdutil.FlagErrorf("--no-warmup and --warmup-shape contradict each other; give one")
	}
	for _, a := range o.WarmupShapes {
		key, dims, err := parseInputShape(a, false)
		if err != nil {
			return w, cmdutil.FlagErrorf("--warmup-shape %q: %v; want [MODEL/]INPUT=DIMS, e.g. input=1,512", a, err)
		}
		w.Shapes[key] = dims
	}
	return w, nil
}

// limits parses --max-dims and --max-elements.
func (o *ServeOptions) limits() (engine.Limits, error) {
	l := engine.Limits{MaxElements: o.MaxElements, Dims: map[string][]int64{}}
	for _, a := range o.MaxDims {
		if !strings.Contains(a, "=") {
			n, err := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
			if err != nil || n < 1 {
				return l, cmdutil.FlagErrorf("--max-dims %q: want a positive number (the cap on every dynamic dimension) or [MODEL/]INPUT=D0,D1,...", a)
			}
			l.MaxDim = n
			continue
		}
		key, dims, err := parseInputShape(a, true)
		if err != nil {
			return l, cmdutil.FlagErrorf("--max-dims %q: %v; want [MODEL/]INPUT=D0,D1,... with -1 for no cap, e.g. input=-1,4096", a, err)
		}
		l.Dims[key] = dims
	}
	return l, nil
}

// parseInputShape splits [MODEL/]INPUT=DIMS.
func parseInputShape(arg string, wildcard bool) (string, []int64, error) {
	i := strings.LastIndex(arg, "=")
	if i <= 0 {
		return "", nil, fmt.Errorf("no INPUT= before the dimensions")
	}
	dims, err := engine.ParseShape(arg[i+1:], wildcard)
	if err != nil {
		return "", nil, err
	}
	return arg[:i], dims, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, cmdutil.FlagErrorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

func serveRun(ctx context.Context, o *ServeOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	specs, err := buildSpecs(o.Models, o.Canary)
	if err != nil {
		return err
	}
	level, _ := parseLevel(o.LogLevel)
	logger := slog.New(slog.NewJSONHandler(o.IO.ErrOut, &slog.HandlerOptions{Level: level}))

	token := ""
	if o.AuthTokenFile != "" {
		b, err := os.ReadFile(o.AuthTokenFile)
		if err != nil {
			return fmt.Errorf("read --auth-token-file: %w", err)
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return fmt.Errorf("--auth-token-file %s is empty; put the token in it", o.AuthTokenFile)
		}
	}
	loader := o.Loader
	if loader == nil {
		l, closeReg, err := o.ortLoader(ctx, specs)
		if err != nil {
			return err
		}
		defer closeReg()
		loader = l
	}

	var eng *engine.Engine
	metrics := server.NewMetrics(func() *engine.Engine { return eng })
	warm, _ := o.warmup()
	limits, _ := o.limits()
	eng = engine.New(loader, engine.Options{Instances: o.instances(), MaxBatchSize: o.MaxBatchSize, MaxQueueDelay: o.MaxQueueDelay,
		QueueSize: o.QueueSize, Logger: logger, Observer: metrics, Warmup: warm, Limits: limits})
	defer eng.Close()
	if err := addModels(ctx, eng, specs, logger); err != nil {
		return err
	}
	warnUnusedKeys(eng, specs, logger, "--warmup-shape", warm.Shapes)
	warnUnusedKeys(eng, specs, logger, "--max-dims", limits.Dims)

	cfg := server.Config{Engine: eng, Metrics: metrics, Logger: logger, Version: buildinfo.Get().Version, AuthToken: token,
		MaxRequestBytes: o.MaxRequestBytes, RequestTimeout: o.RequestTimeout, StrictReadiness: o.StrictReadiness}
	var payloads *payload.Logger
	if o.LogPayloads != "" {
		payloads, err = payload.Open(ctx, o.LogPayloads, payload.Options{Sample: o.LogSample, Gzip: o.LogPayloadsGzip,
			OnDrop:  metrics.PayloadsDropped.Inc,
			OnError: func(err error) { logger.Error("payload log write failed", "error", err.Error()) }})
		if err != nil {
			return err
		}
		cfg.Payloads = payloads
	}
	srv := server.New(cfg)

	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server using it? pick another with --addr)", o.Addr, err)
	}
	httpSrv := &http.Server{Handler: srv.Handler(), ReadTimeout: o.ReadTimeout, ReadHeaderTimeout: min(o.ReadTimeout, 10*time.Second),
		WriteTimeout: o.WriteTimeout, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	scheme := "http"
	if o.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("load TLS certificate: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}})
		scheme = "https"
	}
	addr := ln.Addr().String()
	if o.AddrFile != "" {
		if err := safefile.WriteFile(ctx, o.AddrFile, []byte(addr+"\n"), true); err != nil {
			ln.Close()
			return err
		}
	}
	logger.Info("serving", "url", scheme+"://"+addr, "models", len(specs), "instances", o.instances(), "max_batch_size", o.MaxBatchSize)

	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	if o.Poll > 0 {
		go eng.Poll(pollCtx, o.Poll)
	}
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server stopped: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests", "timeout", o.ShutdownTimeout.String())
	srv.Drain()
	stopPoll()
	sctx, cancel := context.WithTimeout(context.Background(), o.ShutdownTimeout)
	defer cancel()
	shutdownErr := httpSrv.Shutdown(sctx)
	eng.Close()
	if payloads != nil {
		if err := payloads.Close(); err != nil {
			logger.Error("closing payload log", "error", err.Error())
		}
	}
	if shutdownErr != nil {
		return fmt.Errorf("shutdown: requests still running after --shutdown-timeout %s: %w", o.ShutdownTimeout, shutdownErr)
	}
	logger.Info("stopped")
	return nil
}

// defaultArena is --cpu-arena's default (see docs/serve.md, "Memory").
const defaultArena = "shrink"

func (o *ServeOptions) arena() (runtime.ArenaMode, error) {
	s := o.CPUArena
	if s == "" {
		s = defaultArena
	}
	m, err := runtime.ParseArenaMode(s)
	if err != nil {
		return 0, cmdutil.FlagErrorf("--cpu-arena: %v", err)
	}
	return m, nil
}

// addModels loads every model. One that fails is logged and stays
// registered as unavailable (its endpoints answer 503 with the reason)
// while the others serve; only when none loads does serve fail.
func addModels(ctx context.Context, eng *engine.Engine, specs []engine.Spec, logger *slog.Logger) error {
	var errs []string
	for _, s := range specs {
		if err := eng.Add(ctx, s); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, fmt.Sprintf("model %s: %v", s.Name, err))
			logger.Error("model unavailable: serving the others; fix it and POST /v2/repository/models/"+s.Name+"/load",
				"model", s.Name, "error", err.Error())
		}
	}
	if len(errs) == len(specs) {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// warnUnusedKeys logs per-input flag entries that name no input of a
// loaded model: most likely a typo.
func warnUnusedKeys(eng *engine.Engine, specs []engine.Spec, logger *slog.Logger, flag string, entries map[string][]int64) {
	used := map[string]bool{}
	for _, s := range specs {
		md, err := eng.Metadata(s.Name, "")
		if err != nil {
			return // an unavailable model might have had the input
		}
		for _, in := range md.Inputs {
			used[in.Name], used[s.Name+"/"+in.Name] = true, true
		}
	}
	for key := range entries {
		if !used[key] {
			logger.Warn(flag+" names no input of a served model; GET /v2/models/{model} lists the inputs", "entry", key)
		}
	}
}

func (o *ServeOptions) instances() int {
	if o.Instances > 0 {
		return o.Instances
	}
	return engine.DefaultInstances()
}

// ortLoader opens ONNX Runtime and, when some model is not a file, the registry.
func (o *ServeOptions) ortLoader(ctx context.Context, specs []engine.Spec) (engine.Loader, func(), error) {
	rt, err := o.Runtime()
	if err != nil {
		return nil, nil, err
	}
	threads := o.IntraOpThreads
	if threads == 0 {
		threads = max(1, goruntime.NumCPU()/o.instances())
	}
	arena, _ := o.arena()
	l := &ortbackend.Loader{Runtime: rt, Session: runtime.SessionOptions{IntraOpThreads: threads, InterOpThreads: 1, CPUArena: arena}}
	needRegistry := false
	for _, s := range specs {
		for _, ref := range []string{s.Ref, s.CanaryRef} {
			if ref != "" && !fileExists(ref) {
				needRegistry = true
			}
		}
	}
	closeReg := func() {}
	if needRegistry {
		reg, err := o.OpenRegistry(ctx, o.Registry, registry.Options{})
		if err != nil {
			return nil, nil, err
		}
		cache, err := os.UserCacheDir()
		if err != nil {
			return nil, nil, fmt.Errorf("no cache folder for pulled models: %w", err)
		}
		l.Registry, l.CacheDir = reg, filepath.Join(cache, "mlops", "models")
		closeReg = func() { _ = reg.Close() }
	}
	return l, closeReg, nil
}
