#!/usr/bin/env bash
# Real photographs for training and benchmarks, from Debian's wallpaper packages
# (plasma-workspace-wallpapers, mate-backgrounds: reachable wherever Debian's archive is).
# Nothing is committed; the photos land in DEST, one file per wallpaper (its largest resolution).
# With --split, every 6th photo in sorted order goes to DEST/heldout, the rest to DEST/train
# (the split the bundled demo weights were trained and evaluated on).
# usage: scripts/get-photos.sh [--split] [DEST]   (default DEST: ~/.cache/edgeinpaint/photos)
set -euo pipefail
split=0
if [ "${1:-}" = "--split" ]; then split=1; shift; fi
dest=${1:-$HOME/.cache/edgeinpaint/photos}
mkdir -p "$dest"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(
  cd "$work"
  if ! apt-get download plasma-workspace-wallpapers mate-backgrounds >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get download plasma-workspace-wallpapers mate-backgrounds >/dev/null
  fi
  for deb in *.deb; do dpkg -x "$deb" x; done
)
all="$work/all"
mkdir -p "$all"
while IFS= read -r dir; do
  best=$(ls -S "$dir"/contents/images/* 2>/dev/null | head -n 1) || true
  [ -n "$best" ] && cp "$best" "$all/plasma-$(basename "$dir").${best##*.}"
done < <(find "$work/x/usr/share/wallpapers" -mindepth 1 -maxdepth 1 -type d)
for f in "$work"/x/usr/share/backgrounds/mate/nature/* "$work"/x/usr/share/backgrounds/mate/abstract/*; do
  [ -f "$f" ] && cp "$f" "$all/mate-$(basename "$f")"
done
i=0
mkdir -p "$dest/train" "$dest/heldout"
for f in $(ls "$all" | sort); do
  if [ $split = 1 ]; then
    if [ $((i % 6)) = 0 ]; then cp "$all/$f" "$dest/heldout/"; else cp "$all/$f" "$dest/train/"; fi
  else
    cp "$all/$f" "$dest/"
  fi
  i=$((i + 1))
done
[ $split = 1 ] || rmdir "$dest/train" "$dest/heldout" 2>/dev/null || true
echo "$i photos in $dest"
