#!/usr/bin/env bash
# What building the addon needs beyond Node, Rust and a C++ compiler, installed when missing
# (`npm install` runs this first; safe to run repeatedly, quiet when all is there):
#   - libclang-dev (apt): rust-rocksdb runs bindgen at build time, which needs libclang;
#   - zig and cargo-zigbuild (PyPI, pinned, in a venv under ~/.cache/quorumkv/tools/zigenv): the addon
#     is linked against glibc 2.28 so the one binary loads on Ubuntu 20.04+, RHEL 8+, Debian 11+
#     (this machine's own glibc would make it need 2.34+); zig also brings the C++ standard
#     library, linked statically, so no libstdc++ version is required either.
set -euo pipefail
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)

if ! dpkg-query -W -f='${Status}' libclang-dev 2>/dev/null | grep -q "install ok installed"; then
  command -v apt-get >/dev/null || { echo "setup: libclang (libclang-dev) is needed to build RocksDB's bindings; install it with your package manager" >&2; exit 1; }
  echo "setup: installing libclang-dev"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq libclang-dev
fi

zig="$HOME/.cache/quorumkv/tools/zigenv"
if [[ ! -x "$zig/bin/cargo-zigbuild" ]] || ! "$zig/bin/python3" -c 'import ziglang' 2>/dev/null; then
  command -v python3 >/dev/null || { echo "setup: python3 is needed to install zig (PyPI's ziglang)" >&2; exit 1; }
  echo "setup: installing zig and cargo-zigbuild into $zig"
  rm -rf "$zig"
  if ! python3 -m venv "$zig" 2>/dev/null; then
    # Debian's own python3 keeps venv in a separate package.
    command -v apt-get >/dev/null || { echo "setup: python3 cannot make a venv (install python3-venv)" >&2; exit 1; }
    rm -rf "$zig"
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq python3-venv
    python3 -m venv "$zig"
  fi
  "$zig/bin/pip" install -q --disable-pip-version-check cargo-zigbuild==0.24.0 ziglang==0.17.1
fi
