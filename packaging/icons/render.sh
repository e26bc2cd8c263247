#!/bin/sh
# Renders the hicolor PNGs from the SVG (librsvg's rsvg-convert, Debian package librsvg2-bin).
# Run from anywhere; the PNGs are committed.
set -eu
cd "$(dirname "$0")"
id=io.github.sockchat.Sockchat
for n in 16 32 48 64 128 256 512; do
  mkdir -p "hicolor/${n}x${n}/apps"
  rsvg-convert -w "$n" -h "$n" "$id.svg" -o "hicolor/${n}x${n}/apps/$id.png"
done
