#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build and test quorumkv (`npm test` runs it
# first). Node 20+, npm, Rust (rustup, stable), Python 3 and Go are assumed present; this adds:
#   - what the build needs (scripts/setup-build.sh: libclang-dev, zig);
#   - prometheus: the metrics test scrapes a test cluster with a real Prometheus server;
#   - chromium: the dashboard test drives a real browser (playwright-core, no browser download);
#   - versitygw (built with go): the S3-compatible server the backup tests start.
# Safe to run repeatedly; apt runs only when something is missing.
set -euo pipefail

bash "$(dirname "$0")/setup-build.sh"

packages=(prometheus chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]} > 0)); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
else
  echo "setup: system packages present (${packages[*]})"
fi

for tool in node npm cargo; do
  command -v "$tool" >/dev/null || { echo "setup: $tool is required but not installed" >&2; exit 1; }
done

# versitygw: a real S3-compatible server for the backup tests (Apache-2.0, a Go module; about
# three minutes to build once, cached beside the cargo target).
tools="$HOME/.cache/quorumkv/tools/bin"
if [[ ! -x "$tools/versitygw" ]]; then
  command -v go >/dev/null || { echo "setup: go is required to build versitygw (the S3 server the backup tests use)" >&2; exit 1; }
  echo "setup: building versitygw v1.8.0 into $tools"
  mkdir -p "$tools"
  GOBIN="$tools" go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
else
  echo "setup: versitygw present ($tools/versitygw)"
fi
