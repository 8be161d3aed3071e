#!/bin/sh
# Build the sample game into OUT (default games/sample/build): a Linux build as users upload
# it, a launch script and its binary. Needs a C compiler and Debian's libsdl2-dev.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/build}
mkdir -p "$out/bin"
cc -O2 -Wall -Wextra -o "$out/bin/game" "$here/game.c" $(sdl2-config --cflags --libs) -lm -lpthread
cp "$here/run-game.sh" "$out/run-game.sh"
chmod +x "$out/run-game.sh"
echo "$out"
