#!/usr/bin/env bash
# HTTP fuzzing of the producer's API with schemathesis (PyPI, pinned, in a project-local venv): every operation of
# /docs/json, all checks (no response >= 500, status codes, content types, headers and bodies as documented,
# negative data refused...), a bounded number of examples, a timeout on every request (no hang). Exits non-zero on
# any failure.
#
#   bash scripts/fuzz-api.sh              starts nats-server, redis-server and the built producer on free loopback
#                                         ports (scripts/fuzz-stack.mjs; needs `npm run build` and
#                                         scripts/install-servers.sh), fuzzes it, stops them
#   bash scripts/fuzz-api.sh --url URL    fuzzes a producer that runs already (URL: its base, http://127.0.0.1:8080)
#
# Settings (environment):
#   FUZZ_MAX_EXAMPLES   examples per operation in the fuzzing phase, and scenarios in the stateful one (default 100;
#                       the coverage phase adds its own, derived from the schema)
#   FUZZ_SEED           a seed to replay a run (the run prints the one it used)
#   FUZZ_TIMEOUT_S      the whole run at most (default 600)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

SCHEMATHESIS_VERSION=4.32.5
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$ROOT/.kvflow/venv"
MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-100}"
TIMEOUT_S="${FUZZ_TIMEOUT_S:-600}"

url=""
while [ $# -gt 0 ]; do
  case "$1" in
    --url) url="${2:?--url needs a value}"; shift 2 ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ "$MAX_EXAMPLES" =~ ^[1-9][0-9]*$ ]] || die "FUZZ_MAX_EXAMPLES must be a positive integer, not '$MAX_EXAMPLES'"

# --- schemathesis into .kvflow/venv (once per version) ---
command -v python3 >/dev/null 2>&1 ||
  die "python3 not found: install Python 3.9+ with its venv module (Debian/Ubuntu: apt-get install python3 python3-venv)"
python3 -c 'import venv, ensurepip' 2>/dev/null ||
  die "python3 has no venv/ensurepip module: install it (Debian/Ubuntu: apt-get install python3-venv)"
installed() {
  "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('schemathesis') != '$SCHEMATHESIS_VERSION')" \
    2>/dev/null
}
if ! installed; then
  say "installing schemathesis $SCHEMATHESIS_VERSION into .kvflow/venv"
  rm -rf "$VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" ||
    die "pip install schemathesis==$SCHEMATHESIS_VERSION failed (is PyPI reachable?)"
  installed || die "schemathesis $SCHEMATHESIS_VERSION is not importable from $VENV after the install"
fi

# --- the producer under test ---
work="$(mktemp -d "${TMPDIR:-/tmp}/kvflow-fuzz.XXXXXX")"
stack_pid=""
cleanup() {
  if [ -n "$stack_pid" ]; then
    kill -TERM "$stack_pid" 2>/dev/null || true
    wait "$stack_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "$url" ]; then
  [ -f "$ROOT/producer/dist/main.js" ] && [ -f "$ROOT/testkit/dist/index.js" ] ||
    die "the producer is not built: run npm run build first"
  node "$ROOT/scripts/fuzz-stack.mjs" >"$work/stack.out" &
  stack_pid=$!
  for _ in $(seq 1 600); do
    url="$(sed -n 's/^api //p' "$work/stack.out")"
    [ -n "$url" ] && break
    kill -0 "$stack_pid" 2>/dev/null || die "the fuzz stack did not start (see above)"
    sleep 0.1
  done
  [ -n "$url" ] || die "the fuzz stack was not ready within 60 s"
  say "producer at $url (logs in $(sed -n 's/^logs //p' "$work/stack.out"))"
fi

# --- the run ---
seed=()
[ -n "${FUZZ_SEED:-}" ] && seed=(--seed "$FUZZ_SEED")
# The stateful phase (chains of calls along the links schemathesis infers) takes its example count from the config
# file only. No Hypothesis example database: every run starts from the schema alone.
cat >"$work/schemathesis.toml" <<EOF
[generation]
max-examples = $MAX_EXAMPLES
database = "none"

[phases.stateful.generation]
max-examples = $MAX_EXAMPLES
EOF
say "schemathesis $SCHEMATHESIS_VERSION: $url/docs/json, all checks, $MAX_EXAMPLES examples per operation and phase"
# The response time limit is above the longest answer the API documents (GET /keys/{key}?min_seq= waits up to
# wait_ms <= 10 s): an answer slower than 15 s fails the run, and a request unanswered after 20 s is a hang.
# One worker: with more, Python 3.11.7's ast.parse fails in threads ("AST constructor recursion depth mismatch").
# Run from the work directory, so nothing schemathesis or Hypothesis may write lands in the repository.
cd "$work"
timeout --kill-after=10 "$TIMEOUT_S" "$VENV/bin/schemathesis" --no-color --config-file "$work/schemathesis.toml" \
  run "$url/docs/json" \
  --url "$url" \
  --checks all \
  --workers 1 \
  --max-response-time 15 \
  --request-timeout 20 \
  "${seed[@]}"
