#!/usr/bin/env bash
# The README's test command: sets up the local test environment (Kubernetes binaries built from
# Go modules, upstream CRDs, kwok, helm, moto; all cached by version) and runs every test.
# Extra arguments go to `cargo test` (e.g. scripts/test.sh --test lint).
set -euo pipefail
cd "$(dirname "$0")/.."
testenv/install.sh
source "${TACOS_TESTENV_CACHE:-$HOME/.cache/tacos-testenv}/env.sh"
export TACOS_HELM="$TACOS_TESTENV_BIN_HELM/helm"
# CI builds a fresh clone once: incremental state would only take disk (several GiB over the
# test binaries) that a machine shared with other work may not have.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi
cargo test --workspace --all-targets --locked "$@"
