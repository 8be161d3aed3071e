#!/bin/sh
# What a Linux build's launch script does: X11 for SDL, then the game with its arguments.
export SDL_VIDEODRIVER=x11
exec "$(dirname "$0")/bin/game" "$@"
