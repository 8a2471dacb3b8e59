// Package registry is mlops' versioned model registry on any blob store reachable through
// gocloud.dev/blob (s3://, gs://, azblob://, file://, mem://).
//
// Layout under the registry URL's prefix:
//
//	blobs/sha256/<hex>                       file contents, content-addressed (uploaded once)
//	models/<name>/versions/<n>.json          manifest of version n (written last, conditional create)
//	models/<name>/versions/<n>.removed       tombstone left by Remove so n is never reused
//	models/<name>/aliases/<alias>/<seq>.json alias events (promote/rollback), conditional create
//
// A version becomes visible only when its manifest exists, and the manifest is written only after
// every blob it names has been fully written, so an interrupted push leaves no visible version.
// Version numbers and alias events are claimed with IfNotExist writes and retried on conflict, so
// concurrent writers never overwrite each other.
//
// The package knows nothing about cobra, flags or environment variables: the CLI resolves the
// registry URL and credentials chain and passes them in. Credentials are left to each cloud SDK's
// usual chain and are never logged; URLs are redacted before they appear in errors.
package registry
