#!/usr/bin/env bash
# A private Docker Engine for the tests and the container example.
#
#   scripts/docker-engine.sh start   # prints "DOCKER_HOST=... started|reused" (reuses one that answers)
#   scripts/docker-engine.sh stop    # stops the engine this script started (by its pid file)
#   scripts/docker-engine.sh env     # prints DOCKER_HOST=... (the private socket)
#
# No bridge, no iptables: containers get `--network none` or `--network host` only, so no
# traffic ever goes to a private-range address. Storage is vfs (works without overlayfs).
# The engine's files live in $WFRUN_DOCKER_DIR (default: /tmp/wfrun-docker-$UID-<repo hash>:
# short enough for unix socket paths). dockerd is installed with apt (docker.io) if missing.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
hash=$(printf %s "$repo" | cksum | cut -d' ' -f1)
dir=${WFRUN_DOCKER_DIR:-/tmp/wfrun-docker-$(id -u)-$hash}
sock="$dir/docker.sock"
pidfile="$dir/dockerd.pid"
log="$dir/dockerd.log"
host="unix://$sock"

say() { echo "docker-engine: $*" >&2; }

answers() { DOCKER_HOST="$1" timeout 20 docker info >/dev/null 2>&1; }

install_engine() {
    command -v dockerd >/dev/null && command -v docker >/dev/null && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        say "dockerd is not installed and cannot be installed here (needs root and apt-get)"
        return 1
    fi
    say "installing docker.io with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null 2>&1 || {
        apt-get update -qq >/dev/null 2>&1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
    }
}

start() {
    if [ -n "${DOCKER_HOST:-}" ] && answers "$DOCKER_HOST"; then
        echo "DOCKER_HOST=$DOCKER_HOST reused"  # an engine the caller chose
        return 0
    fi
    if answers "$host"; then
        echo "DOCKER_HOST=$host reused"  # ours, still running (another make started it)
        return 0
    fi
    install_engine
    mkdir -p "$dir/data" "$dir/exec"
    chmod 700 "$dir"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        say "dockerd (pid $(cat "$pidfile")) runs but does not answer; see $log"
        return 1
    fi
    rm -f "$sock" "$pidfile"
    setsid dockerd --storage-driver=vfs --iptables=false --ip6tables=false --bridge=none \
        --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$pidfile" \
        -H "$host" >"$log" 2>&1 </dev/null &
    local pid=$! waited=0
    until answers "$host"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            say "dockerd exited while starting; the last lines of $log:"
            tail -n 5 "$log" >&2
            return 1
        fi
        if [ "$waited" -ge 60 ]; then
            say "dockerd (pid $pid) did not answer within 30s; the last lines of $log:"
            tail -n 5 "$log" >&2
            return 1
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
    echo "$pid" >"$dir/started-by-script"
    echo "DOCKER_HOST=$host started"
}

stop() {
    [ -f "$dir/started-by-script" ] || return 0
    local pid
    pid=$(cat "$dir/started-by-script")
    rm -f "$dir/started-by-script"
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid"
    for _ in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.5
    done
    say "dockerd (pid $pid) ignored SIGTERM for 30s: killing it"
    kill -KILL "$pid" 2>/dev/null || true
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env) echo "DOCKER_HOST=$host" ;;
*)
    echo "usage: $0 start|stop|env" >&2
    exit 2
    ;;
esac
