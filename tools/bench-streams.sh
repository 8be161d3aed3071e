#!/usr/bin/env bash
# Concurrent 1280x720 test-card streams at 15 fps: how many before frames drop, the server's
# CPU per stream, and the answer-to-first-frame time (examples/stream_bench.rs, release build).
# Usage: tools/bench-streams.sh [max-streams] [seconds-per-level]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin gameliftstreams-local --example stream_bench >/dev/null
target/release/examples/stream_bench target/release/gameliftstreams-local "${1:-64}" "${2:-10}"
