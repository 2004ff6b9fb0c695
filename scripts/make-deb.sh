#!/usr/bin/env bash
# Builds target/debian/reviewdesk_<version>_<arch>.deb from the binaries `make test` already built
# (target/debug/reviewdesk-desktop and target/debug/reviewdesk, stripped), so packaging compiles
# nothing again.
#
# Why not `cargo tauri bundle`: it needs tauri-cli (about 9 minutes of `cargo install` on a cold
# machine) and rebuilds the app in release mode (the longest build of the project), only to lay out
# the same files and call dpkg-deb, as this script does. The layout follows what Tauri's bundler
# writes for a Debian package, with the copyright and changelog Debian policy asks for.
set -euo pipefail
cd "$(dirname "$0")/.."

DESKTOP_BIN=${DESKTOP_BIN:-target/debug/reviewdesk-desktop}
CLI_BIN=${CLI_BIN:-target/debug/reviewdesk}
OUT_DIR=${OUT_DIR:-target/debian}
for b in "$DESKTOP_BIN" "$CLI_BIN"; do
  [ -x "$b" ] || { echo "make-deb: $b is missing: run \`make test-bins\` first" >&2; exit 1; }
done

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
arch=$(dpkg --print-architecture)
pkg=reviewdesk
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"

install -d -m 0755 "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/share/applications" \
  "$stage/usr/share/doc/$pkg" "$stage/usr/share/metainfo"
# Debug symbols stay in the build tree; the package carries what runs.
install -m 0755 "$DESKTOP_BIN" "$stage/usr/bin/reviewdesk-desktop"
install -m 0755 "$CLI_BIN" "$stage/usr/bin/reviewdesk"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/reviewdesk-desktop" "$stage/usr/bin/reviewdesk"

# Icons at every size a desktop asks for, from the 512 px master.
for size in 16 24 32 48 64 128 256 512; do
  dir="$stage/usr/share/icons/hicolor/${size}x${size}/apps"
  install -d -m 0755 "$dir"
  convert icons/icon.png -resize "${size}x${size}" -strip "PNG32:$dir/$pkg.png"
  chmod 0644 "$dir/$pkg.png"
done

cat > "$stage/usr/share/applications/$pkg.desktop" <<EOF
[Desktop Entry]
Type=Application
Name=Review Desk
GenericName=Video asset review
Comment=Review AI-generated video assets before the expensive steps run
Exec=reviewdesk-desktop
Icon=$pkg
Terminal=false
Categories=AudioVideo;Video;
Keywords=review;video;pipeline;notion;
StartupNotify=true
StartupWMClass=reviewdesk-desktop
EOF
chmod 0644 "$stage/usr/share/applications/$pkg.desktop"

cat > "$stage/usr/share/metainfo/app.reviewdesk.desktop.metainfo.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<component type="desktop-application">
  <id>app.reviewdesk.desktop</id>
  <metadata_license>MIT</metadata_license>
  <project_license>MIT</project_license>
  <name>Review Desk</name>
  <summary>Review AI-generated video assets before the expensive steps run</summary>
  <description>
    <p>Review Desk shows what an AI video pipeline made (images, clips, narration, the final video) at each
    review gate, so the creator approves with one key or flags and rejects with feedback before money is
    spent on the next step. Decisions are mirrored to Notion.</p>
  </description>
  <launchable type="desktop-id">$pkg.desktop</launchable>
</component>
EOF
chmod 0644 "$stage/usr/share/metainfo/app.reviewdesk.desktop.metainfo.xml"

# The license, as Debian's machine-readable copyright file.
{
  cat <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: Review Desk
Source: https://github.com/reviewdesk/reviewdesk

Files: *
Copyright: 2026 The Review Desk developers
License: MIT

License: MIT
EOF
  sed -e 's/^$/./' -e 's/^/ /' LICENSE
} > "$stage/usr/share/doc/$pkg/copyright"
chmod 0644 "$stage/usr/share/doc/$pkg/copyright"

date_r=$(date -u -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")
cat <<EOF | gzip -9n > "$stage/usr/share/doc/$pkg/changelog.gz"
$pkg ($version) unstable; urgency=medium

  * Packaged from the Review Desk source tree.

 -- Review Desk developers <maintainers@reviewdesk.app>  $date_r
EOF
chmod 0644 "$stage/usr/share/doc/$pkg/changelog.gz"

# lintian recognises libyaml's strings in the binaries: they come from unsafe-libyaml, the Rust
# translation of libyaml that the YAML parser of the channel files is built on, not from a copy of the
# C library that Debian's libyaml package could replace.
install -d -m 0755 "$stage/usr/share/lintian/overrides"
cat > "$stage/usr/share/lintian/overrides/$pkg" <<EOF
# unsafe-libyaml (Rust, through serde_yaml_ng), not a copy of Debian's libyaml
$pkg: embedded-library libyaml [usr/bin/reviewdesk]
$pkg: embedded-library libyaml [usr/bin/reviewdesk-desktop]
EOF
chmod 0644 "$stage/usr/share/lintian/overrides/$pkg"

installed_kb=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
# The libraries the window links (WebKitGTK 4.1, GTK 3, the tray's appindicator) and the programs the
# built-in steps run; GStreamer's codecs let the window play H.264/AAC.
cat > "$stage/DEBIAN/control" <<EOF
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: Review Desk developers <maintainers@reviewdesk.app>
Installed-Size: $installed_kb
Depends: libc6 (>= 2.34), libwebkit2gtk-4.1-0, libgtk-3-0, libayatana-appindicator3-1, ffmpeg, espeak-ng
Recommends: gstreamer1.0-libav, gstreamer1.0-plugins-good
Section: video
Priority: optional
Homepage: https://github.com/reviewdesk/reviewdesk
Description: review AI-generated video assets before the expensive steps run
 Review Desk shows what an AI video pipeline generated at each review gate:
 the 22 images of a video, its clips, narration and final cut. The creator
 approves with one key, or flags items and rejects with feedback, before
 money is spent on the next step. Decisions are mirrored to Notion.
EOF
(cd "$stage" && find usr -type f -print0 | sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/md5sums"

mkdir -p "$OUT_DIR"
deb="$OUT_DIR/${pkg}_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
