#!/usr/bin/env bash
# Page latency of ListStreamSessionsByAccount at 1k and 1M sessions, and the time to seed.
# Usage: tools/bench-list.sh [workdir]   (needs ~2 GB of disk in workdir)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
cargo build --release --bin gameliftstreams-local --example list_bench >/dev/null
bin=target/release/gameliftstreams-local
for n in 1000 1000000; do
  dir="$work/sessions-$n"
  rm -rf "$dir"
  echo "== $n sessions"
  "$bin" seed --data-dir "$dir" --sessions "$n"
  "$bin" serve --listen 127.0.0.1:0 --data-dir "$dir" > "$work/serve-$n.out" &
  pid=$!
  for _ in $(seq 50); do grep -q listening "$work/serve-$n.out" 2>/dev/null && break; sleep 0.1; done
  url=$(sed -n 's/^listening on //p' "$work/serve-$n.out")
  target/release/examples/list_bench "$url" 300
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
