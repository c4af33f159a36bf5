#!/usr/bin/env bash
# scripts/s3/start-rgw.sh DIR — a disposable S3 server for the tests: a one-host Ceph cluster
# (one monitor, one OSD keeping its objects in RAM, no manager, authentication off) with the RADOS
# Gateway answering S3 on 127.0.0.1. Every file it makes (config, stores, logs, sockets, pid list)
# stays in DIR, which must be absent or empty. Needs Debian's ceph-mon, ceph-osd, radosgw and
# ceph-common (scripts/ci-setup.sh installs them).
#
# Prints one line on stdout, also written to DIR/env:
#   S3_ENDPOINT=http://127.0.0.1:PORT S3_ACCESS_KEY=… S3_SECRET_KEY=… S3_REGION=us-east-1
# Stop it with scripts/s3/stop-rgw.sh DIR.
#
# Optional environment: RGW_PORT (default: a free port), RGW_ACCESS_KEY, RGW_SECRET_KEY,
# RGW_START_TIMEOUT (seconds, default 60), RGW_STORE_BYTES (OSD capacity, default 4 GiB;
# writes block, rather than fail, once it is full).
set -Eeuo pipefail

fail() { echo "start-rgw.sh: $*" >&2; exit 1; }

# Close inherited descriptors other than stdio: a daemon keeping a test runner's pipe open would
# make the runner wait for it forever.
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  case $fd in 0 | 1 | 2 | 255) ;; *) eval "exec $fd>&-" 2> /dev/null || true ;; esac
done

[ $# -eq 1 ] || fail "usage: start-rgw.sh DIR"
case $1 in /*) DIR=${1%/} ;; *) DIR=$PWD/${1%/} ;; esac
# The daemons' admin sockets live in DIR/run; unix socket paths are limited to 107 bytes.
[[ $DIR =~ ^/[A-Za-z0-9._/+-]+$ ]] || fail "DIR must use plain characters: $DIR"
[ ${#DIR} -le 78 ] || fail "DIR is too long for unix socket paths: $DIR"
if [ -e "$DIR" ]; then
  [ -d "$DIR" ] && [ -z "$(ls -A "$DIR")" ] || fail "$DIR exists and is not an empty directory"
fi
for cmd in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph python3; do
  command -v "$cmd" > /dev/null || fail "$cmd not found: install ceph-mon ceph-osd radosgw ceph-common (scripts/ci-setup.sh)"
done

ACCESS_KEY=${RGW_ACCESS_KEY:-BERTHTESTACCESSKEY01}
SECRET_KEY=${RGW_SECRET_KEY:-berthtestsecretkey0000000000000000000001}
TIMEOUT=${RGW_START_TIMEOUT:-60}
STORE_BYTES=${RGW_STORE_BYTES:-4294967296}

mkdir -p "$DIR"/{mon,osd,run,log,rgw,crash,tmp}
touch "$DIR/.berth-rgw" # stop-rgw.sh only removes directories carrying this mark
LOG=$DIR/log/start.log

pick_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
listening() { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }

MON_PORT=$(pick_port)
PORT=${RGW_PORT:-$(pick_port)}
listening "$PORT" && fail "port $PORT is in use"

# Started daemons are recorded as "role pid" lines; on any failure they are killed.
started=()
on_exit() {
  local rc=$?
  [ $rc -eq 0 ] && return
  for p in "${started[@]}"; do kill -KILL "$p" 2> /dev/null || true; done
  echo "start-rgw.sh: failed; logs in $DIR/log (remove DIR with stop-rgw.sh)" >&2
  tail -n 20 "$LOG" >&2 2> /dev/null || true
}
trap on_exit EXIT
spawn() { # role, command…
  local role=$1
  shift
  setsid "$@" >> "$DIR/log/$role.out" 2>&1 < /dev/null &
  started+=($!)
  echo "$role $!" >> "$DIR/pids"
}

CONF=$DIR/ceph.conf
export CEPH_CONF=$CONF TMPDIR=$DIR/tmp
cat > "$CONF" << CONF
[global]
fsid = $(cat /proc/sys/kernel/random/uuid)
mon host = v2:127.0.0.1:$MON_PORT
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr1 = false
# No cephx. radosgw asks for a "secure" monitor connection unless told crc is fine, and
# "secure" needs cephx: without these two lines it never starts serving.
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
ms client mode = crc secure
run dir = $DIR/run
pid file = $DIR/run/\$cluster-\$name.pid
log file = $DIR/log/\$cluster-\$name.log
mon cluster log file = $DIR/log/\$cluster.log
crash dir = $DIR/crash
keyring = $DIR/keyring
admin socket = $DIR/run/\$cluster-\$name.asok
log to syslog = false
err to syslog = false
log to stderr = false
# A single OSD: one replica, few placement groups.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
# The monitor batches map changes for a second by default; RGW creates several pools at start
# and on first use, each waiting for one. 20 ms makes start-up take well under a second.
paxos propose interval = 0.02
paxos min wait = 0.01

[mon]
mon data = $DIR/mon/\$cluster-\$id

[osd]
osd data = $DIR/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = $STORE_BYTES

[client.rgw.a]
# tcp_nodelay: without it small responses wait ~40 ms for delayed ACKs.
rgw frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
rgw data = $DIR/rgw
rgw thread pool size = 64
# Reclaim deleted data within minutes (the OSD keeps it in RAM until then).
rgw gc obj min wait = 120
rgw gc processor period = 60
CONF

monmaptool --create --fsid "$(awk '/^fsid/{print $3}' "$CONF")" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >> "$LOG" 2>&1
ceph-mon -c "$CONF" -i a --mkfs --monmap "$DIR/monmap" >> "$LOG" 2>&1
spawn mon ceph-mon -c "$CONF" -i a -f
for _ in $(seq 1 1500); do listening "$MON_PORT" && break; sleep 0.02; done
listening "$MON_PORT" || fail "ceph-mon did not start (see $DIR/log)"

OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_ID=$(timeout 30 ceph -c "$CONF" --connect-timeout 25 osd new "$OSD_UUID" 2>> "$LOG")
[ "$OSD_ID" = 0 ] || fail "could not register the OSD (got '$OSD_ID')"
mkdir -p "$DIR/osd/ceph-0" # memstore needs its directory before --mkfs
ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID" >> "$LOG" 2>&1
spawn osd ceph-osd -c "$CONF" -i 0 -f
spawn rgw radosgw -c "$CONF" -n client.rgw.a -f

# RGW answers an anonymous "GET /" with 200 once it serves S3.
serving() (
  exec 3<> "/dev/tcp/127.0.0.1/$PORT" || exit 1
  printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  IFS= read -r -t 5 status <&3 || exit 1
  [[ $status == "HTTP/1."?" 200"* ]]
)
deadline=$((SECONDS + TIMEOUT))
until serving 2> /dev/null; do
  for p in "${started[@]}"; do kill -0 "$p" 2> /dev/null || fail "a ceph daemon (pid $p) exited; see $DIR/log"; done
  [ $SECONDS -lt $deadline ] || fail "S3 did not answer on 127.0.0.1:$PORT within ${TIMEOUT}s"
  sleep 0.1
done

radosgw-admin -c "$CONF" user create --uid=berth --display-name=berth-tests \
  --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" > "$DIR/user.json" 2>> "$LOG"

LINE="S3_ENDPOINT=http://127.0.0.1:$PORT S3_ACCESS_KEY=$ACCESS_KEY S3_SECRET_KEY=$SECRET_KEY S3_REGION=us-east-1"
echo "$LINE" > "$DIR/env"
trap - EXIT
echo "$LINE"
