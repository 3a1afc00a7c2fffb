#!/usr/bin/env bash
# The README's main job: every phase of `tacos deploy`, against a local simulated cluster
# (kube-apiserver, controller-manager, scheduler, kwok nodes) and moto's AWS emulator, seeded
# like the platform's account. Runs the deploy twice: the second run must change nothing; then
# `tacos verify` checks, read-only, that the cluster matches the tree and is healthy.
# Extra arguments go to both `tacos deploy` runs (e.g. --output json).
set -euo pipefail
cd "$(dirname "$0")/.."
testenv/install.sh
cargo build --workspace --bins --locked
tacos=target/debug/tacos
deploy=("$tacos" deploy --phase all --profile "" --timeout 5m "$@")
exec target/debug/tacos-local run --repo . -- bash -c '
  set -e
  "$@"
  echo
  echo "=== second run: the platform is up, so nothing should change ==="
  "$@"
  echo
  echo "=== tacos verify: read-only, as CI would run it ==="
  "$1" verify --phase all --profile ""
' deploy "${deploy[@]}"
