# Pinned emulator versions for the registry integration tests (sourced by install.sh).
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
FAKEGCS_VERSION=v1.56.1
AZURITE_VERSION=3.35.0
