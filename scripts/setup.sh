#!/usr/bin/env bash
# Installs what building and testing Review Desk needs on Debian 12. Idempotent and quiet when
# everything is already there.
set -euo pipefail

APT_PACKAGES=(
  build-essential pkg-config file
  # image benchmarks compare against libvips
  libvips-tools
  # PostgreSQL for the multi-worker backend tests
  postgresql
  # the desktop shell (Tauri 2 on WebKitGTK), its tests under Xvfb with D-Bus notifications
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev xvfb xauth webkit2gtk-driver dbus dunst
  # the desktop window plays the H.264/AAC clips and final video through GStreamer
  gstreamer1.0-libav gstreamer1.0-plugins-good
  # browser tests of the web UI and screenshots
  chromium imagemagick
  # the built-in video, narration, sound-effect and assembly steps (and their tests)
  ffmpeg espeak-ng
  # `make deb` checks the package it builds; its test finds the tray item on the bus with gdbus
  lintian libglib2.0-bin
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A real S3-compatible server for the R2 storage tests (PyPI's moto in server mode).
if ! command -v moto_server >/dev/null 2>&1; then
  echo "setup: installing moto[server]" >&2
  python3 -m pip install --quiet --disable-pip-version-check 'moto[server]'
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
fi

# Schemathesis fuzzes the HTTP API from its OpenAPI document (`make test-api`).
if ! command -v schemathesis >/dev/null 2>&1; then
  echo "setup: installing schemathesis" >&2
  python3 -m pip install --quiet --disable-pip-version-check 'schemathesis==4.32.5'
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "setup: installing cargo-nextest" >&2
  cargo install cargo-nextest --locked
fi

# tauri-driver drives the desktop window through WebKitWebDriver (webkit2gtk-driver) in the tests.
if ! command -v tauri-driver >/dev/null 2>&1; then
  echo "setup: installing tauri-driver" >&2
  cargo install tauri-driver --locked --version 2.1.0
fi

# npm packages (the lock files pin them); skipped when node_modules is newer than the lock.
for dir in ui tests/e2e tests/desktop; do
  if [ -f "$dir/package-lock.json" ]; then
    (cd "$dir" && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; })
  fi
done
