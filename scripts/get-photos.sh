#!/usr/bin/env bash
# Real photographs for training and benchmarks, from Debian's wallpaper packages
# (plasma-workspace-wallpapers, mate-backgrounds: reachable wherever Debian's archive is).
# Nothing is committed; the photos land in DEST, one file per wallpaper (its largest resolution).
# With --split, the split is by picture, not by file: a wallpaper shipped at several resolutions
# (mate-Elephants.jpg, mate-Elephants_3840x2160.jpg, mate-Elephants_5640x3172.jpg) is one picture, and
# all its files go to the same side. DEST/heldout gets the 8 pictures the bundled demo weights were
# evaluated on (src/edgeinpaint/weights/bundled/MODEL_CARD.md, "Data"), every other picture DEST/train.
# usage: scripts/get-photos.sh [--split] [--from DIR] [DEST]   (default DEST: ~/.cache/edgeinpaint/photos)
#   --from DIR: split photos already collected in DIR (named as this script names them) instead of
#   downloading the packages.
set -euo pipefail
split=0
from=""
while [ $# -gt 0 ]; do
  case "$1" in
    --split) split=1; shift ;;
    --from) from=$2; shift 2 ;;
    *) break ;;
  esac
done
dest=${1:-$HOME/.cache/edgeinpaint/photos}
mkdir -p "$dest"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
all="$work/all"
mkdir -p "$all"
if [ -n "$from" ]; then
  cp "$from"/* "$all/"
else
  (
    cd "$work"
    if ! apt-get download plasma-workspace-wallpapers mate-backgrounds >/dev/null 2>&1; then
      apt-get update -qq >/dev/null 2>&1 || true
      apt-get download plasma-workspace-wallpapers mate-backgrounds >/dev/null
    fi
    for deb in *.deb; do dpkg -x "$deb" x; done
  )
  while IFS= read -r dir; do
    best=$(ls -S "$dir"/contents/images/* 2>/dev/null | head -n 1) || true
    [ -n "$best" ] && cp "$best" "$all/plasma-$(basename "$dir").${best##*.}"
  done < <(find "$work/x/usr/share/wallpapers" -mindepth 1 -maxdepth 1 -type d)
  for f in "$work"/x/usr/share/backgrounds/mate/nature/* "$work"/x/usr/share/backgrounds/mate/abstract/*; do
    [ -f "$f" ] && cp "$f" "$all/mate-$(basename "$f")"
  done
fi
# The model card's held-out pictures (its "Data" section names them).
heldout="mate-Dune mate-Garden mate-Spring plasma-Altai plasma-ColdRipple plasma-Flow plasma-Kite plasma-Patak"
i=0
mkdir -p "$dest/train" "$dest/heldout"
for f in $(ls "$all" | sort); do
  if [ $split = 1 ]; then
    picture=$(echo "${f%.*}" | sed -E 's/_[0-9]+x[0-9]+$//')  # the picture, whatever its resolution
    case " $heldout " in
      *" $picture "*) cp "$all/$f" "$dest/heldout/" ;;
      *) cp "$all/$f" "$dest/train/" ;;
    esac
  else
    cp "$all/$f" "$dest/"
  fi
  i=$((i + 1))
done
if [ $split = 1 ]; then
  for picture in $heldout; do
    found=$(find "$dest/heldout" -maxdepth 1 \( -name "$picture.*" -o -name "${picture}_*x*" \) | head -n 1)
    [ -n "$found" ] || echo "warning: held-out picture $picture is not in these packages (the card's evaluation lacks it)" >&2
  done
else
  rmdir "$dest/train" "$dest/heldout" 2>/dev/null || true
fi
echo "$i photos in $dest"
