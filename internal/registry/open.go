package registry

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // registers azblob://
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob" // registers gs://
	"gocloud.dev/blob/memblob"
	_ "gocloud.dev/blob/s3blob" // registers s3://
)

// Options tune transfers. Zero values pick the defaults.
type Options struct {
	// PartSize is the S3 multipart part size / GCS and Azure chunk size in bytes (default 16 MiB).
	PartSize int
	// Concurrency is the number of parts uploaded or ranges downloaded in parallel per file (default 8).
	Concurrency int
	// Retries is how many times a failed file transfer is retried after a transient error (default 3).
	Retries int
	// Now returns the current time; tests pin it. Defaults to time.Now.
	Now func() time.Time
}

// Defaults of Options.
const (
	DefaultPartSize    = 16 << 20
	DefaultConcurrency = 8
	DefaultRetries     = 3
)

func (o Options) withDefaults() Options {
	if o.PartSize <= 0 {
		o.PartSize = DefaultPartSize
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Retries < 0 {
		o.Retries = 0
	} else if o.Retries == 0 {
		o.Retries = DefaultRetries
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Registry is an open model registry. It is safe for concurrent use.
type Registry struct {
	bucket *blob.Bucket
	url    string // redacted, for messages
	opts   Options
}

// allowedParams lists the query parameters each scheme accepts, so a typo is reported by mlops
// with the list of valid names instead of surfacing later as a confusing SDK error.
var allowedParams = map[string][]string{
	"s3": {"region", "endpoint", "use_path_style", "disable_https", "profile", "anonymous",
		"request_checksum_calculation", "response_checksum_validation", "ssetype", "kmskeyid",
		"accelerate", "dualstack", "fips", "hostname_immutable", "rate_limiter_capacity",
		"role", "role_session_name", "role_external_id", "role_duration", "web_identity_token_file", "awssdk"},
	"gs":     {"anonymous", "access_id", "private_key_path", "universe_domain"},
	"azblob": {"domain", "protocol", "localemu", "storage_account", "cdn"},
	"file":   {},
	"mem":    {},
}

// DefaultURL is the registry used when none is configured: a file:// registry under the user's
// data directory ($XDG_DATA_HOME/mlops/registry, else ~/.local/share/mlops/registry). The caller
// passes the environment values in; this package reads no environment itself.
func DefaultURL(xdgDataHome, home string) (string, error) {
	base := xdgDataHome
	if base == "" || !filepath.IsAbs(base) {
		if home == "" {
			return "", fmt.Errorf("%w: no registry configured and no home directory to put the default one in; pass --registry URL or set MLOPS_REGISTRY", ErrInvalid)
		}
		base = filepath.Join(home, ".local", "share")
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(base, "mlops", "registry"))}).String(), nil
}

// Redact returns rawURL without user info and with any secret-looking query values hidden.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "<unparseable URL>"
	}
	u.User = nil
	return u.String()
}

// Open opens the registry at rawURL. It checks the scheme and query parameters, opens the
// bucket (credentials come from the cloud SDK's usual chain) and verifies that the bucket is
// reachable, so a missing bucket or bad credentials fail here with a clear message.
func Open(ctx context.Context, rawURL string, opts Options) (*Registry, error) {
	b, err := OpenStore(ctx, rawURL, "registry")
	if err != nil {
		return nil, err
	}
	return &Registry{bucket: b, url: Redact(rawURL), opts: opts.withDefaults()}, nil
}

// OpenStore opens the bucket at rawURL with the registry's checks (scheme, query parameters,
// no credentials in the URL, bucket reachable), with the URL's path as key prefix. Other
// packages that keep data on the same blob stores (tune journals) use it; what names the
// store in messages ("registry", "journal").
func OpenStore(ctx context.Context, rawURL, what string) (*blob.Bucket, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("%w: %s URL %q: want s3://bucket/prefix, gs://bucket/prefix, azblob://container/prefix, file:///path or mem://", ErrInvalid, what, Redact(rawURL))
	}
	red := Redact(rawURL)
	if u.User != nil {
		return nil, fmt.Errorf("%w: %s URL %s: credentials in the URL are not accepted; use the cloud's usual environment variables or config files", ErrInvalid, what, red)
	}
	allowed, ok := allowedParams[u.Scheme]
	if !ok {
		return nil, fmt.Errorf("%w: %s URL %s: unsupported scheme %q; use s3, gs, azblob, file or mem", ErrInvalid, what, red, u.Scheme)
	}
	q := u.Query()
	var unknown []string
	for k := range q {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		hint := "it takes no query parameters"
		if len(allowed) > 0 {
			hint = "supported: " + strings.Join(allowed, ", ")
		}
		return nil, fmt.Errorf("%w: %s URL %s: unknown query parameter %s for %s:// (%s)", ErrInvalid, what, red, strings.Join(unknown, ", "), u.Scheme, hint)
	}
	b, err := openBucket(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", what, red, err)
	}
	ok, err = b.IsAccessible(ctx)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("open %s %s: %w (check the endpoint and credentials)", what, red, err)
	}
	if !ok {
		b.Close()
		return nil, fmt.Errorf("%w: open %s %s: bucket or container %q does not exist; create it first", ErrNotFound, what, red, u.Host)
	}
	return b, nil
}

// OpenBucket wraps an already open bucket (tests, embedding). The registry takes ownership.
func OpenBucket(b *blob.Bucket, displayURL string, opts Options) *Registry {
	return &Registry{bucket: b, url: displayURL, opts: opts.withDefaults()}
}

func openBucket(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	q := u.Query()
	prefix := strings.Trim(u.Path, "/")
	switch u.Scheme {
	case "file":
		dir := filepath.FromSlash(u.Path)
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("%w: file URL must be file:///absolute/path (got host %q)", ErrInvalid, u.Host)
		}
		if !filepath.IsAbs(dir) {
			return nil, fmt.Errorf("%w: file URL path %q must be absolute", ErrInvalid, u.Path)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create registry directory: %w", err)
		}
		return fileblob.OpenBucket(dir, &fileblob.Options{})
	case "mem":
		return memblob.OpenBucket(nil), nil
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%w: %s URL needs a bucket or container name: %s://NAME/prefix", ErrInvalid, u.Scheme, u.Scheme)
	}
	// The SDK openers take the bucket from the host; the path becomes our key prefix.
	bu := *u
	bu.Path = ""
	if u.Scheme == "s3" {
		// Every file's sha256 is checked end to end on pull, so the SDK's own CRC32 per
		// request is redundant: on GET its default would log a warning for each ranged read
		// (no whole-object checksum), on PUT it is one more pass over every byte in the
		// client and another in the server. Either can be turned back on in the URL.
		for _, k := range []string{"response_checksum_validation", "request_checksum_calculation"} {
			if !q.Has(k) {
				q.Set(k, "when_required")
			}
		}
		bu.RawQuery = q.Encode()
	}
	// The cloud openers resolve credentials through each SDK's usual chain (environment,
	// config files, instance metadata); we never see or log them.
	b, err := blob.OpenBucket(ctx, bu.String())
	if err != nil {
		return nil, err
	}
	if prefix != "" {
		b = blob.PrefixedBucket(b, prefix+"/")
	}
	return b, nil
}
