#!/usr/bin/env bash
# Tools for `npm run bench:cluster` only (not needed to build or test): h2load (HTTP/2 load),
# wrk (HTTP/1.1 load) and etcd 3.4 (the peer we compare against through its JSON gateway), from
# Debian; then etcd 3.7 over gRPC, built from Go modules.
set -euo pipefail
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq nghttp2-client wrk etcd-server

# etcd 3.7 over its native gRPC API (bench/etcd37): its server and a load generator on its Go
# client, built from the Go module proxy (the server module cannot be `go install`ed: a main that
# calls etcdmain.Main builds it). Skipped with a note where Go is missing.
if command -v go >/dev/null; then
  out="${HOME}/.cache/quorumkv/tools/etcd37"
  mkdir -p "$out"
  go build -C "$(dirname "$0")/../bench/etcd37" -o "$out/" ./etcd ./load
  echo "etcd 3.7 and its load generator: $out"
else
  echo "go is missing: the etcd 3.7 (gRPC) part of bench:cluster is unavailable" >&2
fi
