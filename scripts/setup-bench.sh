#!/usr/bin/env bash
# Tools for `npm run bench:cluster` only (not needed to build or test): h2load (HTTP/2 load),
# wrk (HTTP/1.1 load) and etcd (the peer we compare against), from Debian.
set -euo pipefail
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq nghttp2-client wrk etcd-server
