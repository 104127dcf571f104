#!/usr/bin/env bash
# report_hangs.sh COMMAND...: runs COMMAND (a ctest run) and, while it runs, reports each
# test process that has run longer than HANG_REPORT_AFTER seconds (default 100): for it
# and every process below it, the state, each thread's kernel wait channel and system
# call, and gdb's backtraces when gdb is installed. A ctest timeout alone says only
# "Timeout"; a hang that happens once in many runs must leave its evidence in the log.
# Reports go to stderr as they are made and are appended to HANG_REPORT_FILE (default
# build/hang-reports.txt), which .ci/run prints again at its end. Exits with COMMAND's
# status.
set -uo pipefail

after=${HANG_REPORT_AFTER:-100}
file=${HANG_REPORT_FILE:-build/hang-reports.txt}
mkdir -p "$(dirname "$file")"

# One process: its command line and state, its threads, and their stacks.
describe() {
  local pid=$1
  echo "--- pid $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
  ps -o pid=,ppid=,stat=,etimes=,wchan:32= -p "$pid" 2>/dev/null | sed 's/^/    ps: /'
  local task
  for task in /proc/"$pid"/task/*; do
    [ -d "$task" ] || continue
    echo "    thread ${task##*/} $(cat "$task/comm" 2>/dev/null): wchan=$(cat "$task/wchan" 2>/dev/null)" \
      "syscall=$(cut -d' ' -f1 "$task/syscall" 2>/dev/null)"
  done
  if command -v gdb >/dev/null; then
    timeout 60 gdb -p "$pid" -batch -nx -ex 'thread apply all bt 30' 2>&1 |
      grep -E '^(Thread|#)' | head -120 | cut -c1-240 | sed 's/^/    /'
  fi
}

# The process and everything below it, parents first.
tree() {
  local pid=$1 child
  echo "$pid"
  for child in $(pgrep -P "$pid"); do tree "$child"; done
}

"$@" &
command_pid=$!

(
  reported=" "
  while kill -0 "$command_pid" 2>/dev/null; do
    sleep 5
    for pid in $(pgrep -P "$command_pid"); do
      age=$(ps -o etimes= -p "$pid" 2>/dev/null | tr -d ' ')
      [ -n "$age" ] && [ "$age" -ge "$after" ] || continue
      case "$reported" in *" $pid "*) continue ;; esac
      reported="$reported$pid "
      {
        echo "=== hang report $(date -u +%FT%TZ): a test process running for ${age} s"
        for p in $(tree "$pid"); do describe "$p"; done
      } | tee -a "$file" >&2
    done
  done
) &
watcher_pid=$!

wait "$command_pid"
status=$?
kill "$watcher_pid" 2>/dev/null
wait "$watcher_pid" 2>/dev/null
exit "$status"
