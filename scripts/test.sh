#!/usr/bin/env bash
# Ruff and the whole test suite, on SQLite and on a throwaway PostgreSQL that is always stopped.
# Extra arguments (and $PYTEST_ARGS) go to pytest. The exit status is pytest's, or ruff's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/postgres.sh install
scripts/postgres.sh start
trap 'scripts/postgres.sh stop' EXIT
BIGMAX_TEST_POSTGRES_URL=$(scripts/postgres.sh url)
export BIGMAX_TEST_POSTGRES_URL

paths=(src tests)
[[ -d benchmarks ]] && paths+=(benchmarks)
lint=0
.venv/bin/ruff check "${paths[@]}" || lint=$?

# shellcheck disable=SC2086  # PYTEST_ARGS holds several words on purpose
.venv/bin/python -m pytest ${PYTEST_ARGS:-} "$@" || exit $?
exit "$lint"
