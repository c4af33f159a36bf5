#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (real registry clients, Distribution itself,
# and the tools the benchmarks use). Idempotent and non-interactive: it does nothing when every
# package is already installed. Installing needs root (CI runs as root; `npm test` calls this script
# when it finds a package missing and runs as root). `--missing` only lists what is not installed.
#
# Why each package:
#   skopeo, umoci, buildah, podman  real clients driven by test/clients/* (pull/push/copy only:
#                                   as root with the vfs storage driver nothing else is needed;
#                                   podman's hard dependencies bring conmon, crun, uidmap and
#                                   containers-common with its default policy.json)
#   docker-registry                 CNCF Distribution 2.8.2, the reference for the drop-in tests
#   redis-server                    the redis blob-descriptor cache
#   wrk, apache2-utils, nginx-light benchmarks, the proxy tests, and the web server the redirect
#                                   storage middleware sends blob downloads to (test/storage/middleware.test.ts)
#   curl                            the bench's pull client (C, so the client is not the limit)
#   util-linux                      unshare(1), used to give the clients a private mount namespace
#   ceph-mon ceph-osd radosgw       a throw-away Ceph cluster with its S3 gateway (RGW), the real
#   ceph-common                     S3 server the s3 driver tests run against (scripts/s3/start-rgw.sh)
#   docker.io containerd            the Docker engine and CLI, and containerd's ctr: real clients of
#                                   test/clients/ (each test starts its own daemon on private paths)
#   chromium                        a real browser for the web UI's tests (driven by playwright-core;
#                                   browsers cannot be downloaded here)
#   tmux                            a real pseudo-terminal for the command line's progress bars
set -euo pipefail

PACKAGES=(
  skopeo umoci buildah podman
  docker-registry
  redis-server
  wrk apache2-utils nginx-light
  curl
  util-linux
  ceph-mon ceph-osd radosgw ceph-common
  docker.io containerd
  chromium
  tmux
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  if [ "$status" != "installed" ]; then
    missing+=("$pkg")
  fi
done

# --missing: print the packages not installed (one line, nothing when all are) and install nothing;
# any user may ask. scripts/run-tests.mjs uses it so the list lives here only.
if [ "${1:-}" = "--missing" ]; then
  echo "${missing[*]}"
  exit 0
fi

if [ "${#missing[@]}" -eq 0 ]; then
  echo "ci-setup.sh: all system packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "ci-setup.sh: must run as root to install ${missing[*]} (apt-get install)" >&2
  exit 1
fi

echo "ci-setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${missing[@]}" </dev/null
