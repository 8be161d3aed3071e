#!/usr/bin/env bash
# Game streams: the sample game (games/sample, --animate --tone 440) at 1280x720 and
# 1920x1080, 30 fps: how many before frames drop, the server's CPU per stream, its
# capture/convert/encode split and its sound's CPU, key-to-frame latency and
# StartStreamSession to the game's first frame (examples/game_bench.rs, release build), then
# the last two without the sandbox; first, what conversion and encoding cost a frame by
# how much of the picture changes (examples/encode_bench.rs). Needs xvfb and libsdl2-dev.
# Usage: tools/bench-games.sh [max-streams] [seconds-per-level]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin gameliftstreams-local --example game_bench --example encode_bench >/dev/null
games/sample/build.sh target/sample-game >/dev/null
for size in 1280x720 1920x1080; do
  target/release/examples/encode_bench "$size" 150
done
for size in 1280x720 1920x1080; do
  target/release/examples/game_bench target/release/gameliftstreams-local target/sample-game "$size" "${1:-8}" "${2:-8}"
done
# The sandbox's cost: one stream, and StartStreamSession to the first frame, without it (the
# cgroup stays: it costs a few file writes).
GLS_BENCH_SERVER_ARGS="--app-sandbox off" \
  target/release/examples/game_bench target/release/gameliftstreams-local target/sample-game 1280x720 1 "${2:-8}"
