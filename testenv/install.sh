#!/usr/bin/env bash
# Builds (or finds cached) everything the local test environment runs, on a fresh machine that
# reaches only the package registries:
#   - etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok, helm,
#     metrics-server, the VPA recommender, kubeconform (what the lint bench times tacos against):
#     built from their Go modules (wrapper modules under testenv/go/, pinned by go.sum);
#   - upstream CRDs: `go mod download` of the projects' own Go modules (testenv/crds.txt);
#   - moto's server (the AWS emulator) in a virtualenv, pinned in testenv/requirements.txt.
# Everything lands in $TACOS_TESTENV_CACHE (default ~/.cache/tacos-testenv), keyed by version,
# so a warm run takes seconds. Prints the environment the tests read when given `--print-env`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=testenv/versions.env
source "$here/versions.env"
cache=${TACOS_TESTENV_CACHE:-$HOME/.cache/tacos-testenv}
mkdir -p "$cache"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local

log() { printf '[testenv %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "testenv: '$1' is not installed; $2" >&2; exit 2; }
}

# build_go NAME STAMP_FILE_DIR MODULE_DIR LDFLAGS PACKAGES...
build_go() {
  local name=$1 out=$2 moddir=$3 ldflags=$4
  shift 4
  if [ -f "$out/.complete" ]; then return 0; fi
  log "building $name into $out (cold: this takes a while on 2 cores)"
  local start=$SECONDS
  mkdir -p "$out.tmp"
  (cd "$here/go/$moddir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp/" "$@")
  rm -rf "$out" && mv "$out.tmp" "$out" && touch "$out/.complete"
  log "built $name in $((SECONDS - start)) s"
}

install_kubernetes() {
  local minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  local v="k8s.io/component-base/version" c="k8s.io/client-go/pkg/version"
  local stamp=""
  for pkg in $v $c; do
    stamp+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    stamp+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  build_go "kubernetes $KUBERNETES_VERSION" "$cache/bin/kubernetes-$KUBERNETES_VERSION" kubernetes "$stamp" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
}

install_etcd() {
  build_go "etcd $ETCD_VERSION" "$cache/bin/etcd-$ETCD_VERSION" etcd \
    "-X go.etcd.io/etcd/api/v3/version.Version=${ETCD_VERSION#v}" .
}

install_kwok() {
  build_go "kwok $KWOK_VERSION" "$cache/bin/kwok-$KWOK_VERSION" kwok \
    "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$KUBERNETES_VERSION" \
    sigs.k8s.io/kwok/cmd/kwok
  # kwok's stage files (what fake nodes and pods do) ship in its module: take them from there.
  local stages="$cache/kwok-stages-$KWOK_VERSION"
  if [ ! -f "$stages/.complete" ]; then
    local dir
    dir=$(cd "$here/go/kwok" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    rm -rf "$stages" && mkdir -p "$stages"
    for part in node/fast node/heartbeat-with-lease pod/fast; do
      for f in "$dir/kustomize/stage/$part"/*.yaml; do
        [ "$(basename "$f")" = kustomization.yaml ] || cp "$f" "$stages/"
      done
    done
    chmod -R u+w "$stages"
    touch "$stages/.complete"
  fi
  # kwok's emulated kubelet /metrics/resource endpoint and pod usage read from annotations, for metrics-server.
  local metrics="$cache/kwok-metrics-$KWOK_VERSION"
  if [ ! -f "$metrics/.complete" ]; then
    local dir
    dir=$(cd "$here/go/kwok" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    rm -rf "$metrics" && mkdir -p "$metrics"
    cp "$dir/kustomize/metrics/resource/metrics-resource.yaml" "$dir/kustomize/metrics/usage/usage-from-annotation.yaml" "$metrics/"
    chmod -R u+w "$metrics"
    touch "$metrics/.complete"
  fi
}

install_metrics_server() {
  build_go "metrics-server $METRICS_SERVER_VERSION" "$cache/bin/metrics-server-$METRICS_SERVER_VERSION" metrics-server \
    "-X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER_VERSION -X k8s.io/client-go/pkg/version.buildDate=1970-01-01T00:00:00Z" \
    sigs.k8s.io/metrics-server/cmd/metrics-server
}

# The VPA recommender, run out of cluster like metrics-server: the services' VerticalPodAutoscalers
# (updateMode "Off") get real recommendations from the resource metrics the tests set.
install_vpa_recommender() {
  build_go "vpa-recommender $VPA_VERSION" "$cache/bin/vpa-recommender-$VPA_VERSION" vpa-recommender "" \
    k8s.io/autoscaler/vertical-pod-autoscaler/pkg/recommender
}

install_helm() {
  build_go "helm $HELM_VERSION" "$cache/bin/helm-$HELM_VERSION" helm \
    "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" helm.sh/helm/v4/cmd/helm
}

# Argo CD's multicall binary (application-controller, repo-server, ...): the real GitOps loop of
# the simulated cluster. The version the argo-cd chart installs (see the wrapper module's go.mod),
# so the controllers read the configuration that chart renders. Its repo-server runs
# git-verify-wrapper.sh and gpg-wrapper.sh from PATH on every manifest request: they ship in the
# module's hack/ (a module zip keeps no exec bit).
install_argocd() {
  local out="$cache/bin/argocd-$ARGOCD_VERSION"
  if [ ! -f "$out/.complete" ]; then
    log "building Argo CD $ARGOCD_VERSION into $out (cold: about 11 min on 2 cores)"
    local start=$SECONDS pkg=github.com/argoproj/argo-cd/v3/common dir
    rm -rf "$out.tmp" && mkdir -p "$out.tmp"
    (cd "$here/go/argocd" && CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X $pkg.version=${ARGOCD_VERSION#v} -X $pkg.gitTag=$ARGOCD_VERSION -X $pkg.gitTreeState=clean" \
      -o "$out.tmp/argocd" github.com/argoproj/argo-cd/v3/cmd)
    dir=$(cd "$here/go/argocd" && go mod download -json "github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    cp "$dir/hack/git-verify-wrapper.sh" "$dir/hack/gpg-wrapper.sh" "$out.tmp/"
    chmod 0755 "$out.tmp"/*.sh
    rm -rf "$out" && mv "$out.tmp" "$out" && touch "$out/.complete"
    log "built Argo CD in $((SECONDS - start)) s"
  fi
}

# kubeconform, the manifest validator `cargo bench --bench lint` times tacos lint against, and the
# OpenAPI v2 document Kubernetes publishes for the pinned version (api/openapi-spec/swagger.json
# in the k8s.io/kubernetes module, pinned by testenv/go/kubernetes/go.sum): the bench makes
# kubeconform's JSON schemas from it, as no schema can be downloaded here.
install_kubeconform() {
  build_go "kubeconform $KUBECONFORM_VERSION" "$cache/bin/kubeconform-$KUBECONFORM_VERSION" kubeconform \
    "-X main.version=$KUBECONFORM_VERSION" github.com/yannh/kubeconform/cmd/kubeconform
  local openapi="$cache/kubernetes-openapi-$KUBERNETES_VERSION"
  if [ ! -f "$openapi/.complete" ]; then
    log "taking the Kubernetes $KUBERNETES_VERSION OpenAPI document from its Go module"
    local dir
    dir=$(cd "$here/go/kubernetes" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    rm -rf "$openapi" && mkdir -p "$openapi"
    cp "$dir/api/openapi-spec/swagger.json" "$openapi/"
    chmod -R u+w "$openapi"
    touch "$openapi/.complete"
  fi
}

# Redis for Argo CD's controllers, from Debian (it is not started here: the tests start their own).
install_redis() {
  command -v redis-server >/dev/null 2>&1 && return 0
  need apt-get "install redis-server (Argo CD's controllers need a Redis)"
  log "installing redis-server from Debian's packages"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  # Debian's package starts a system-wide server on 6379; the tests run their own on free ports.
  (command -v systemctl >/dev/null 2>&1 && systemctl disable --now redis-server >/dev/null 2>&1) || true
  pkill -x redis-server 2>/dev/null || true
}

install_crds() {
  local out="$cache/crds"
  mkdir -p "$out"
  while read -r name modver sum path glob; do
    case "$name" in ''|'#'*) continue ;; esac
    local dest="$out/$name-${modver##*@}"
    [ -f "$dest/.complete" ] && continue
    log "fetching CRDs $name from Go module $modver"
    local json dir got
    json=$(cd "$cache" && GONOSUMDB="${modver%@*}" GOFLAGS= go mod download -json "$modver")
    dir=$(sed -n 's/.*"Dir": "\(.*\)".*/\1/p' <<<"$json")
    got=$(sed -n 's/.*"Sum": "\(.*\)".*/\1/p' <<<"$json")
    if [ -z "$dir" ] || [ "$got" != "$sum" ]; then
      echo "testenv: $modver: expected $sum, got '${got:-nothing}'" >&2
      echo "$json" >&2
      exit 1
    fi
    rm -rf "$dest" && mkdir -p "$dest"
    cp "$dir/$path"/$glob "$dest/"
    chmod -R u+w "$dest"
    touch "$dest/.complete"
  done < "$here/crds.txt"
}

install_moto() {
  local venv="$cache/venv-moto-$MOTO_VERSION"
  [ -f "$venv/.complete" ] && return 0
  need python3 "install Python 3 (the AWS emulator is moto's server)"
  log "installing moto[server]==$MOTO_VERSION into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  touch "$venv/.complete"
}

# The SARIF 2.1.0 JSON schema (OASIS's sarif-schema-2.1.0.json) that tests/lint.rs validates
# `tacos lint --output sarif` against, as the npm package @datadog/datadog-ci ships it (pinned by
# version and by the registry's sha512 integrity; only the schema file is kept).
SARIF_SCHEMA_PACKAGE=@datadog/datadog-ci
SARIF_SCHEMA_PACKAGE_VERSION=2.48.0
SARIF_SCHEMA_PACKAGE_INTEGRITY=sha512-Xseeb1Fu0CBl2SpbYzTiqok9bs5bKSY9ZAGDuDcWTjSI3jpCuDt4BiIxE/HOMzV4t+S6KKjCABhquahXo/u0TA==
SARIF_SCHEMA_PACKAGE_PATH=package/dist/commands/sarif/json-schema/sarif-schema-2.1.0.json
SARIF_SCHEMA_VERSION=2.1.0

install_sarif_schema() {
  local out="$cache/sarif-schema-$SARIF_SCHEMA_VERSION"
  [ -f "$out/.complete" ] && return 0
  need npm "install Node.js and npm (the SARIF schema comes from an npm package)"
  log "fetching the SARIF $SARIF_SCHEMA_VERSION schema from $SARIF_SCHEMA_PACKAGE@$SARIF_SCHEMA_PACKAGE_VERSION"
  local tmp tarball got
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$SARIF_SCHEMA_PACKAGE@$SARIF_SCHEMA_PACKAGE_VERSION" >/dev/null)
  tarball=$(ls "$tmp"/*.tgz)
  got=$(node -e 'const c = require("crypto"), fs = require("fs");
    process.stdout.write("sha512-" + c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"))' "$tarball")
  if [ "$got" != "$SARIF_SCHEMA_PACKAGE_INTEGRITY" ]; then
    echo "testenv: $SARIF_SCHEMA_PACKAGE@$SARIF_SCHEMA_PACKAGE_VERSION: expected $SARIF_SCHEMA_PACKAGE_INTEGRITY, got $got" >&2
    exit 1
  fi
  tar -xzf "$tarball" -C "$tmp" "$SARIF_SCHEMA_PACKAGE_PATH"
  rm -rf "$out" && mkdir -p "$out"
  cp "$tmp/$SARIF_SCHEMA_PACKAGE_PATH" "$out/sarif-schema.json"
  rm -rf "$tmp"
  touch "$out/.complete"
}

print_env() {
  cat <<ENV
export TACOS_TESTENV_BIN_KUBERNETES=$cache/bin/kubernetes-$KUBERNETES_VERSION
export TACOS_TESTENV_BIN_ETCD=$cache/bin/etcd-$ETCD_VERSION
export TACOS_TESTENV_BIN_KWOK=$cache/bin/kwok-$KWOK_VERSION
export TACOS_TESTENV_KWOK_STAGES=$cache/kwok-stages-$KWOK_VERSION
export TACOS_TESTENV_KWOK_METRICS=$cache/kwok-metrics-$KWOK_VERSION
export TACOS_TESTENV_BIN_HELM=$cache/bin/helm-$HELM_VERSION
export TACOS_TESTENV_BIN_METRICS_SERVER=$cache/bin/metrics-server-$METRICS_SERVER_VERSION
export TACOS_TESTENV_BIN_VPA_RECOMMENDER=$cache/bin/vpa-recommender-$VPA_VERSION
export TACOS_TESTENV_CRDS=$cache/crds
export TACOS_TESTENV_BIN_ARGOCD=$cache/bin/argocd-$ARGOCD_VERSION
export TACOS_TESTENV_REDIS_SERVER=$(command -v redis-server || echo /usr/bin/redis-server)
export TACOS_TESTENV_MOTO=$cache/venv-moto-$MOTO_VERSION/bin/moto_server
export TACOS_TESTENV_BIN_KUBECONFORM=$cache/bin/kubeconform-$KUBECONFORM_VERSION
export TACOS_TESTENV_KUBERNETES_OPENAPI=$cache/kubernetes-openapi-$KUBERNETES_VERSION
ENV
}

main() {
  need go "install Go (the Kubernetes binaries are built from Go modules)"
  local only=${1:-all}
  case "$only" in
    --print-env) print_env; return ;;
    kubernetes|etcd|kwok|metrics_server|vpa_recommender|helm|argocd|redis|crds|moto|sarif_schema|kubeconform) "install_$only"; return ;;
    all) ;;
    *) echo "usage: testenv/install.sh [all|kubernetes|etcd|kwok|metrics_server|vpa_recommender|helm|argocd|redis|crds|moto|sarif_schema|kubeconform|--print-env]" >&2; exit 2 ;;
  esac
  install_moto
  install_crds
  install_etcd
  install_helm
  install_kwok
  install_metrics_server
  install_vpa_recommender
  install_kubernetes
  install_redis
  install_argocd
  install_sarif_schema
  install_kubeconform
  print_env > "$cache/env.sh"
  log "test environment ready: source $cache/env.sh"
}

main "$@"
