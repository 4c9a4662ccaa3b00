#!/usr/bin/env bash
# The whole suite on SQLite and on PostgreSQL, within `make test`'s ten minutes on two cores:
# the unit and security tests of both engines run side by side (no timing in them), then the
# browser tests one engine after the other (they assert sub-second deliveries: no contention).
# Each side's output is kept in a file and printed whole, so the two never interleave.
set -uo pipefail

PYTEST="${PYTEST:-.venv/bin/pytest}"
logs="$(mktemp -d)"
status=0

run_unit() {  # engine
  RELAIS_TEST_DATABASE="$1" "$PYTEST" tests/unit tests/security -p no:cacheprovider \
    >"$logs/unit-$1.log" 2>&1
}

echo "== unit and security tests on SQLite and on PostgreSQL, side by side"
run_unit sqlite & sqlite_pid=$!
run_unit postgresql & postgres_pid=$!
wait "$sqlite_pid" || status=1
wait "$postgres_pid" || status=1
for engine in sqlite postgresql; do
  echo "== unit and security tests on $engine"
  cat "$logs/unit-$engine.log"
done

for engine in sqlite postgresql; do
  echo "== browser and server tests on $engine"
  RELAIS_TEST_DATABASE="$engine" "$PYTEST" tests/e2e -p no:cacheprovider || status=1
done

rm -rf "$logs"
if [ "$status" -ne 0 ]; then
  echo "Some tests failed (see above)." >&2
fi
exit "$status"
