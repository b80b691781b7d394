#!/usr/bin/env bash
# Run the test suite: tests/common once, tests/backend once per Keras backend, tests/tflite once.
# Usage: scripts/run_tests.sh MARKEXPR   (e.g. "not slow" or "slow")
#
# The five pytest processes are independent (each has its own Keras backend), and much of their
# time is single-threaded Python (building models, tracing), so they run TEST_JOBS at a time
# (default: the number of cores, at most 3). Each process writes its own log; a log is printed
# whole when its process ends, and a summary of all five closes the run.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${VENV:-.venv}/bin/python
mark=${1:-not slow}
cores=$(nproc 2>/dev/null || echo 2)
jobs=${TEST_JOBS:-$(( cores < 3 ? cores : 3 ))}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# name|backend|path, longest first so that the pool drains evenly
runs=("common|tensorflow|tests/common" "backend-jax|jax|tests/backend"
      "tflite|tensorflow|tests/tflite" "backend-tensorflow|tensorflow|tests/backend"
      "backend-torch|torch|tests/backend")

start=$(date +%s)
run_one() {  # name backend path: writes $logs/name.log and $logs/name.rc
  local name=$1 backend=$2 path=$3 t0=$(date +%s)
  env KERAS_BACKEND="$backend" "$PY" -m pytest "$path" -m "$mark" -p no:cacheprovider --durations=8 \
    > "$logs/$name.log" 2>&1
  echo $? > "$logs/$name.rc"
  echo $(( $(date +%s) - t0 )) > "$logs/$name.sec"
}
print_one() {
  echo "== $1: ${2} on KERAS_BACKEND=${3} (-m '$mark'), $(cat "$logs/$1.sec") s"
  cat "$logs/$1.log"
}

declare -A pid_of=()
pending=("${runs[@]}")
done_names=()
while [ ${#pending[@]} -gt 0 ] || [ ${#pid_of[@]} -gt 0 ]; do
  while [ ${#pending[@]} -gt 0 ] && [ ${#pid_of[@]} -lt "$jobs" ]; do
    IFS='|' read -r name backend path <<< "${pending[0]}"
    pending=("${pending[@]:1}")
    run_one "$name" "$backend" "$path" &
    pid_of[$name]=$!
  done
  wait -n 2>/dev/null || true
  for name in "${!pid_of[@]}"; do
    if ! kill -0 "${pid_of[$name]}" 2>/dev/null; then
      wait "${pid_of[$name]}" 2>/dev/null
      unset "pid_of[$name]"
      for r in "${runs[@]}"; do
        IFS='|' read -r n backend path <<< "$r"
        [ "$n" = "$name" ] && print_one "$name" "$path" "$backend"
      done
      done_names+=("$name")
    fi
  done
done

# Summary: pytest exit 5 ("no tests collected") is fine for a marker selection with none.
status=0 passed=0 failed=0 skipped=0
echo "== summary (-m '$mark', ${jobs} at a time, $(( $(date +%s) - start )) s wall)"
for r in "${runs[@]}"; do
  IFS='|' read -r name backend path <<< "$r"
  rc=$(cat "$logs/$name.rc")
  last=$(grep -E '^=+ .* in [0-9.]+s' "$logs/$name.log" | tail -1 | sed -E 's/^=+ //; s/ =+$//')
  printf '   %-20s rc=%s %5s s  %s\n' "$name" "$rc" "$(cat "$logs/$name.sec")" "$last"
  for kind in passed failed skipped; do
    n=$(grep -oE "[0-9]+ $kind" <<< "$last" | grep -oE '^[0-9]+' || true)
    n=${n:-0}
    case $kind in passed) passed=$((passed + n));; failed) failed=$((failed + n));;
                  skipped) skipped=$((skipped + n));; esac
  done
  errors=$(grep -oE '[0-9]+ errors?' <<< "$last" | grep -oE '^[0-9]+' || true)
  failed=$((failed + ${errors:-0}))
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then status=$rc; fi
done
echo "total: $passed passed, $failed failed, $skipped skipped"
exit $status
