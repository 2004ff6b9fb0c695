# The two commands of the README: `make run` and `make test`. CI runs `make test` (see .ci/run).
SHELL := /bin/bash
export CARGO_TERM_COLOR ?= never

.PHONY: setup run demo test lint test-rust bench-thumbs

setup:
	./scripts/setup.sh

## Set up and start the app with a sample task on the embedded defaults.
run: setup
	cargo build -p reviewdesk-cli
	./target/debug/reviewdesk demo
	./target/debug/reviewdesk task list

## Set up and run every test.
test: setup lint test-rust

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

test-rust:
	cargo nextest run --workspace --no-fail-fast

## Thumbnail benchmark against vipsthumbnail (prints figures and the ratio).
bench-thumbs: setup
	cargo bench -p reviewdesk-imaging --bench thumbnails
