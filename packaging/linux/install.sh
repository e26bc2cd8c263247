#!/bin/sh
# Installs sockchat's desktop entry, icons and AppStream metainfo for the current user, so the app menu
# lists it with its icon. The binary itself comes from `cargo install --path .` (into ~/.cargo/bin, which
# must be on the PATH the desktop session sees: the entry runs `sockchat`). PREFIX=/usr/local installs for
# everyone (run as root). Undo: remove the same files.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
id=io.github.sockchat.Sockchat
if [ -n "${PREFIX:-}" ]; then share="$PREFIX/share"; else share="${XDG_DATA_HOME:-$HOME/.local/share}"; fi

install -Dm644 "$here/$id.desktop" "$share/applications/$id.desktop"
install -Dm644 "$here/$id.metainfo.xml" "$share/metainfo/$id.metainfo.xml"
for n in 16 32 48 64 128 256 512; do
  install -Dm644 "$here/../icons/hicolor/${n}x${n}/apps/$id.png" "$share/icons/hicolor/${n}x${n}/apps/$id.png"
done
install -Dm644 "$here/../icons/$id.svg" "$share/icons/hicolor/scalable/apps/$id.svg"

# Menus pick the new entry up by themselves on most desktops; this makes it immediate. (No icon cache is
# written under ~/.local: a stale one would hide later icons.)
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$share/applications" || true
echo "installed $id under $share"
