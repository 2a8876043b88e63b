#!/usr/bin/env bash
# Runs bun test over the whole suite and ends with the one line CI reads: "N passed, M failed".
set -u
bun="${1:-node_modules/.bin/bun}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
"$bun" test --timeout 120000 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
passed=$(grep -Eo '^ *[0-9]+ pass' "$log" | tail -n 1 | grep -Eo '[0-9]+' || echo 0)
failed=$(grep -Eo '^ *[0-9]+ fail' "$log" | tail -n 1 | grep -Eo '[0-9]+' || echo 0)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "${passed} passed, ${failed} failed"
exit "$status"
