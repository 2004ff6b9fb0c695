#!/usr/bin/env bash
# Schemathesis against a live `reviewdesk serve`, driven only by its /api/openapi.json: no answer
# may be a 5xx, and every answer must have a documented status, content type and schema. The
# server has a task waiting at Assets Ready (`reviewdesk demo`), so the fuzzer's ids can hit one.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="${REVIEWDESK_BIN:-$PWD/target/debug/reviewdesk}"
work="$(mktemp -d)"
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
export REVIEWDESK_DATA_DIR="$work/data" REVIEWDESK_CONFIG_DIR="$work/cfg" \
  REVIEWDESK_DATABASE_URL="sqlite://$work/db.sqlite?mode=rwc" REVIEWDESK_WORKSPACE="$work/ws"
unset REVIEWDESK_SERVER_TOKEN NOTION_TOKEN
# No media programs for the server's worker: an approval the fuzzer makes stops, waiting, at the
# video step instead of encoding 18 clips beside the fuzzing (the contract is the same either way).
export REVIEWDESK_FFMPEG=/nonexistent/ffmpeg REVIEWDESK_ESPEAK_NG=/nonexistent/espeak-ng
"$BIN" demo >/dev/null
"$BIN" serve --addr 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err" &
serve_pid=$!
# The first line names the bound address; wait for it (bounded: the server starts in well under 30 s).
for _ in $(seq 300); do
  grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.err" >&2; exit 1; }
  sleep 0.1
done
url="$(sed -n 's/^listening on //p' "$work/serve.out" | head -1)"
[ -n "$url" ] || { echo "api-fuzz: serve did not start" >&2; cat "$work/serve.err" >&2; exit 1; }
echo "api-fuzz: schemathesis against $url" >&2
# The event stream never ends by design: it is checked by the end-to-end tests instead. The seed is
# fixed so a run is reproducible; set API_FUZZ_SEED (and API_FUZZ_EXAMPLES) to explore further.
# One worker: with two threads, Hypothesis's concurrent `ast.parse` calls can trip CPython 3.11's
# thread-unsafe AST recursion counter ("SystemError: AST constructor recursion depth mismatch"),
# an error of the tool, not of the API.
schemathesis run "$url/api/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --exclude-path /api/events \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "${API_FUZZ_EXAMPLES:-40}" \
  --seed "${API_FUZZ_SEED:-20261204}" \
  --workers 1 \
  --request-timeout 10 \
  --suppress-health-check all \
  --no-color
