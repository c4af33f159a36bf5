#!/usr/bin/env bash
# scripts/s3/stop-rgw.sh DIR — stops the daemons start-rgw.sh started in DIR and removes DIR.
# A pid is signalled only while its command line still names DIR's ceph.conf (pids get reused).
# RGW_STOP_GRACE: seconds to wait after SIGTERM before SIGKILL (default 0: kill at once; the data
# is thrown away anyway).
set -uo pipefail
[ $# -eq 1 ] || { echo "usage: stop-rgw.sh DIR" >&2; exit 2; }
DIR=${1%/}
[ -d "$DIR" ] || exit 0
[ -f "$DIR/.berth-rgw" ] || { echo "stop-rgw.sh: $DIR was not made by start-rgw.sh; leaving it" >&2; exit 1; }
GRACE=${RGW_STOP_GRACE:-0}
ours() { tr '\0' ' ' < "/proc/$1/cmdline" 2> /dev/null | grep -q -- "$DIR/ceph.conf"; }
pids=()
if [ -f "$DIR/pids" ]; then
  while read -r _ pid; do ours "$pid" && pids+=("$pid"); done < "$DIR/pids"
fi
signal=TERM
[ "$GRACE" = 0 ] && signal=KILL
for p in "${pids[@]}"; do kill -$signal "$p" 2> /dev/null; done
end=$((SECONDS + GRACE))
for p in "${pids[@]}"; do
  while ours "$p"; do
    if [ $SECONDS -ge $end ]; then kill -KILL "$p" 2> /dev/null; fi
    sleep 0.05
  done
done
[ "${RGW_KEEP_DIR:-0}" = 1 ] || rm -rf "$DIR"
