#!/usr/bin/env bash
# Installs the pinned storage emulators used by the registry integration tests into .deps/:
#   MinIO (S3), fake-gcs-server (GCS) built with the Go toolchain, Azurite (Azure Blob) from npm.
# Idempotent: each tool is skipped when the pinned version is already present.
# Usage: scripts/services/install.sh [minio|fakegcs|azurite ...]   (default: all)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=versions.sh
. "$ROOT/scripts/services/versions.sh"
BIN="$ROOT/.deps/bin"
mkdir -p "$BIN"

stamp_ok() { [[ -x "$1" && -f "$1.version" && "$(cat "$1.version")" == "$2" ]]; }

install_go_tool() { # name module version
	local name="$1" module="$2" version="$3" dst="$BIN/$1"
	if stamp_ok "$dst" "$version"; then return 0; fi
	echo "installing $name $version (go install $module@$version) ..." >&2
	local tmp
	tmp="$(mktemp -d "$BIN/.install-XXXXXX")"
	# MinIO's module has no semver tags; a pseudo-version pins an exact commit.
	GOBIN="$tmp" GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install "$module@$version"
	mv "$tmp/$(basename "$module")" "$dst"
	rmdir "$tmp"
	echo "$version" >"$dst.version"
}

install_azurite() {
	local dir="$ROOT/.deps/azurite"
	if [[ -f "$dir/version" && "$(cat "$dir/version")" == "$AZURITE_VERSION" && -x "$dir/node_modules/.bin/azurite-blob" ]]; then return 0; fi
	echo "installing azurite $AZURITE_VERSION from npm ..." >&2
	mkdir -p "$dir"
	npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION" >&2
	echo "$AZURITE_VERSION" >"$dir/version"
}

targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(minio fakegcs azurite)
for t in "${targets[@]}"; do
	case "$t" in
	minio) install_go_tool minio github.com/minio/minio "$MINIO_VERSION" ;;
	fakegcs) install_go_tool fake-gcs-server github.com/fsouza/fake-gcs-server "$FAKEGCS_VERSION" ;;
	azurite) install_azurite ;;
	*) echo "unknown emulator $t (want minio, fakegcs or azurite)" >&2; exit 2 ;;
	esac
done
