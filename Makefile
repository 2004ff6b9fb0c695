# The two commands of the README: `make run` and `make test`. CI runs `make test` (see .ci/run).
SHELL := /bin/bash
export CARGO_TERM_COLOR ?= never
BIN := ./target/debug/reviewdesk

.PHONY: setup run test lint test-rust test-ui test-api test-e2e test-desktop test-bins ui-build cli desktop deb bench-thumbs bench-ui bench-claims bench-desktop bench-media

setup:
	./scripts/setup.sh

# The binaries, built as the Rust tests build them (`test-bins`): the same packages and targets give
# the same features and units, so `make run` after `make test` (or the reverse) compiles no dependency
# again. A `-p` build resolves features per package, and a build of fewer targets profiles shared
# build-time dependencies differently: either way some crates (a `-p` build: a hundred) compile again.
# The UI is built first: the `reviewdesk` binary embeds ui/dist.
cli: test-bins

# The desktop app embeds ui/dist, so the UI is built first.
desktop: ui-build
	cargo build -p reviewdesk-desktop

ui-build:
	npm --prefix ui run build

## The Debian package, target/debian/reviewdesk_<version>_<arch>.deb: the test build's binaries,
## stripped, with a desktop entry, icons at every size and the license (scripts/make-deb.sh says why
## it does not run `cargo tauri bundle`).
deb: setup test-bins
	./scripts/make-deb.sh

## Set up and start the app with a sample task: the desktop window where a display exists, otherwise
## the web UI on http://127.0.0.1:7777 (`reviewdesk serve`).
run: setup ui-build cli
	@if [ -z "$$($(BIN) task list --json | tr -d '[:space:]' | sed 's/^\[\]$$//')" ]; then $(BIN) demo >/dev/null; fi
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		./target/debug/reviewdesk-desktop; \
	else \
		$(BIN) serve; \
	fi

## Set up and run every test.
test: setup ui-build lint test-rust test-ui test-api test-e2e test-desktop

# clippy builds the desktop crate, whose Tauri context embeds ui/dist: build the UI first.
lint: ui-build
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# The PostgreSQL backend tests run against a throwaway local cluster.
test-rust:
	url="$$(./scripts/start-postgres.sh)" && export REVIEWDESK_TEST_PG_URL="$$url" && cargo nextest run --workspace --no-fail-fast

test-ui:
	npm --prefix ui run check
	npm --prefix ui test

# The binaries the end-to-end tests drive, built with the same feature resolution as the Rust test
# build (`--workspace --tests`), so that after `test-rust` this links at most two binaries: a `-p` build
# resolves features per package and would compile some hundred dependencies again.
test-bins: ui-build
	cargo build --workspace --bins --tests

# Schemathesis against a live `reviewdesk serve`, driven by /api/openapi.json: no 5xx, and every
# answer's status, content type and body as documented.
test-api: test-bins
	./tests/api-fuzz/run.sh

test-e2e: test-bins
	cd tests/e2e && npm test

# The real desktop window under Xvfb (tauri-driver + WebKitWebDriver) with a D-Bus session for
# notifications; the npm script wraps xvfb-run and dbus-run-session.
test-desktop: test-bins deb
	cd tests/desktop && npm test

## Steps 3–6 with the built-in media executors against the same commands in a shell script, and the
## time from approval to Ready for Review (prints figures and the ratio).
# The debug build `make run` uses, with the test build's features: nothing compiles again after
# `make test`, and the time is ffmpeg's and espeak-ng's, not the optimiser's.
bench-media: setup
	cargo bench --workspace --bench media_steps --profile dev

## Thumbnail benchmark against vipsthumbnail (prints figures and the ratio).
bench-thumbs: setup
	cargo bench -p reviewdesk-imaging --bench thumbnails

## Gallery-open and decision latency in Chromium over 20 runs (median, p95).
bench-ui: setup ui-build cli
	cd tests/e2e && npm run bench

## Desktop app, release build (real window, Xvfb): start-up to the painted board and memory with 100
## tasks and with 5,000, each against an empty board; idle CPU and wake-ups with the window closed to the
## tray. The goals are for the release build (the one users run); REVIEWDESK_DESKTOP_BIN picks another.
bench-desktop: setup ui-build cli
	cargo build --release -p reviewdesk-desktop
	cd tests/desktop && REVIEWDESK_DESKTOP_BIN="$${REVIEWDESK_DESKTOP_BIN:-$(CURDIR)/target/release/reviewdesk-desktop}" npm run bench

## Claims per second for 1, 2 and 4 workers on PostgreSQL and SQLite (double claims checked).
bench-claims: setup
	url="$$(./scripts/start-postgres.sh)" && export REVIEWDESK_TEST_PG_URL="$$url" && cargo bench -p reviewdesk-core --bench claims
