#!/usr/bin/env bash
# Run the OPTIMADE validator against a live BigMax server over the demo archive.
#
#   scripts/optimade_validate.sh            # bigmax serve --demo in a temp dir
#   BIGMAX_HOME=/path scripts/optimade_validate.sh   # reuses an archive that has data
#
# Exits non-zero unless failure_count == 0, internal_failure_count == 0 and the per-property
# filter checks ran for every property OPTIMADE says MUST be queryable.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
BIN=$(dirname "$PY")
TMP=$(mktemp -d -t bigmax-optimade-XXXXXX)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DEMO=()
if [ -z "${BIGMAX_HOME:-}" ]; then
  # what `make run` serves: the demo, ingested and published by `bigmax serve --demo`
  export BIGMAX_HOME="$TMP/home"
  DEMO=(--demo)
fi
"$BIN/bigmax" serve "${DEMO[@]}" --host 127.0.0.1 --port "$PORT" > "$TMP/server.log" 2>&1 &
SERVER_PID=$!
URL="http://127.0.0.1:$PORT/optimade/v1"
for _ in $(seq 600); do  # the demo ingest takes a while on 2 cores
  if "$PY" -c "import urllib.request,sys; urllib.request.urlopen('$URL/info', timeout=1)" 2>/dev/null; then break; fi
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log"; exit 2; }
  sleep 0.5
done

# The validator tests each property's filters on a test entry it scrapes at random; when that
# is one of the demo's formula-only entries (the octet binaries: no atoms, so
# nperiodic_dimensions is null) it skips that property. Such a run is repeated (exit 3 below),
# so that every MUST-queryable property is checked in one run; real failures end at once.
check() {
"$BIN/optimade-validator" --json "$URL" > "$TMP/result.json" || true
"$BIN/optimade-validator" -v "$URL" > "$TMP/verbose.log" 2>&1 || true
"$PY" - "$TMP/result.json" "$TMP/verbose.log" <<'PYEOF'
import json
import sys

from optimade.validator.config import VALIDATOR_CONFIG
from optimade.models import SupportLevel

result = json.load(open(sys.argv[1]))
log = open(sys.argv[2]).read()
counts = {k: v for k, v in result.items() if k.endswith("_count")}
print(json.dumps(counts))
schema = VALIDATOR_CONFIG.entry_schemas["structures"]
# Properties with MUST queryability whose values the validator can turn into filters
# (lists of floats such as elements_ratios are skipped by the validator itself).
must = [p for p, s in schema.items() if s.get("queryable") == SupportLevel.MUST]
must = [p for p in must if p not in ("type", "elements_ratios")]
missing = [p for p in must if f"{p} passed filter tests" not in log]
ok = True
for kind in ("failure", "internal_failure"):
    for message in result.get(f"{kind}_messages", []):
        print(f"{kind}: {message}")
if result.get("failure_count") != 0 or result.get("internal_failure_count") != 0:
    ok = False
print("OPTIMADE validator: " + ("PASS" if ok and not missing else "FAIL"))
if missing:
    print(f"per-property filter checks did not pass for: {', '.join(missing)}")
    sys.exit(3 if ok else 1)
sys.exit(0 if ok else 1)
PYEOF
}

for attempt in 1 2 3 4; do
  status=0
  check || status=$?
  [ "$status" -eq 3 ] || exit "$status"
  echo "attempt $attempt: the validator's test entry left a property untested; again"
done
exit 1
