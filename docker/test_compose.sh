#!/usr/bin/env bash
# End-to-end test of the docker support on a sandboxed machine (see DOCKER.md notes in
# docker/README.md): builds the image, runs the AP and 3 users with docker-compose, checks
# results.json, compares per-user results with `semalign launch` (same image, seed, config),
# and stops a user container mid-run to check that the AP finishes without it.
#
#   sudo docker/test_compose.sh [--mode all|results|dropout|tls] [--keep] [--purge] [--timeout SECONDS]
#
#   --mode results   compose run with 3 users + comparison with `semalign launch`
#   --mode dropout   compose run with 3 users (20 rounds), user-2 stopped after round 1
#   --mode tls       compose run with 3 users over TLS (`semalign certs`, --tls-dir, --root-certificates)
#   --mode all       all three (default)
#   --keep           keep the logs and results.json files (/tmp/semalign-dtest.*) also on success
#   --purge          also delete the persistent state (base image tarball, image cache)
#   --timeout S      give up after S seconds in total (default 3600)
#
# What it starts, and stops again on exit (success, failure, Ctrl-C or timeout): its own
# dockerd (setsid, private socket, stopped by PID), a local HTTP server for the torch wheel
# (stopped by PID), the compose project's containers, network and volumes, the reference
# container. What it keeps: $SEMALIGN_DOCKER_STATE (default /var/tmp/semalign-docker): the
# debootstrap base tarball, the torch wheel and dockerd's data root, so a second run reuses
# the image layers (delete with --purge).
#
# Needs root, network access to deb.debian.org and PyPI; installs docker.io, docker-compose
# and debootstrap with apt-get when missing.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
MODE=all PURGE=0 KEEP=0 TIMEOUT=3600
while [ $# -gt 0 ]; do
    case "$1" in
    --mode) MODE="$2"; shift 2 ;;
    --purge) PURGE=1; shift ;;
    --keep) KEEP=1; shift ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test_compose.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
case "$MODE" in all|results|dropout|tls) ;; *) echo "--mode must be all, results, dropout or tls" >&2; exit 2 ;; esac

START=$(date +%s)
DEADLINE=$((START + TIMEOUT))
STATE="${SEMALIGN_DOCKER_STATE:-/var/tmp/semalign-docker}"
RUN="$(mktemp -d /tmp/semalign-dtest.XXXXXX)"
PROJECT="semalign-test-$$"
IMAGE="semalign:test"
BASE="semalign-base:bookworm"
COMPOSE_FILE="$HERE/.test-compose-$$.yaml"
LAUNCH_NAME="$PROJECT-launch"
TORCH_WHEEL_SPEC="torch==2.13.0"
# Small settings, so the run is bounded: 3 users, synthetic latents, 5 ADMM rounds.
SEED=7 ITERATIONS=5 PILOTS=500 TEST_SAMPLES=200
# Generous: on a loaded 2-core machine a user's first reply (imports in a fresh process) took 90 s.
ROUND_TIMEOUT="${SEMALIGN_TEST_ROUND_TIMEOUT:-180}"
DOCKERD_PID="" DOCKERD_CHILDREN="" WHEEL_PID="" CHILD="" OK=0

log() { printf '[%s +%4ds] %s\n' "$(date +%H:%M:%S)" "$(( $(date +%s) - START ))" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
left() { local r=$((DEADLINE - $(date +%s))); [ "$r" -gt 0 ] || r=0; echo "$r"; }
bounded() {  # bounded SECONDS CMD...: run CMD, at most SECONDS (and never past the deadline)
    local s="$1"; shift
    local r; r=$(left)
    [ "$r" -gt 0 ] || die "time budget of ${TIMEOUT}s used up"
    [ "$s" -lt "$r" ] || s="$r"
    # in the background + wait, so that a signal reaches our trap at once (not after the step)
    timeout --kill-after=15 "$s" "$@" &
    CHILD=$!
    local rc=0
    wait "$CHILD" || rc=$?
    CHILD=""
    return "$rc"
}
COMPOSE=(docker-compose)                  # docker compose v2 when docker-compose is missing
CMP=()                                    # COMPOSE with this test's project and file
compose() { "${CMP[@]}" "$@"; }

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    log "teardown"
    if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
        if [ -f "$COMPOSE_FILE" ]; then
            timeout 60 "${CMP[@]}" logs --no-color > "$RUN/compose.log" 2>&1
            timeout 120 "${CMP[@]}" down -v --remove-orphans -t 5 >> "$RUN/teardown.log" 2>&1
        fi
        timeout 60 docker rm -f "$LAUNCH_NAME" >> "$RUN/teardown.log" 2>&1
        for c in $(timeout 30 docker ps -aq); do  # this dockerd is ours alone: every container in it
            timeout 30 docker rm -f "$c" >> "$RUN/teardown.log" 2>&1
        done
        for v in $(timeout 30 docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT"); do
            timeout 30 docker volume rm -f "$v" >> "$RUN/teardown.log" 2>&1
        done
        timeout 60 docker image prune -f >> "$RUN/teardown.log" 2>&1  # dangling layers of rebuilt images
    fi
    if [ -n "$WHEEL_PID" ]; then kill "$WHEEL_PID" 2>/dev/null; wait "$WHEEL_PID" 2>/dev/null; fi
    if [ -n "$DOCKERD_PID" ]; then
        DOCKERD_CHILDREN="$(pgrep -P "$DOCKERD_PID" 2>/dev/null | tr '\n' ' ')"
        kill -TERM "$DOCKERD_PID" 2>/dev/null
        for _ in $(seq 60); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
        if kill -0 "$DOCKERD_PID" 2>/dev/null; then log "dockerd did not stop: SIGKILL"; kill -KILL "$DOCKERD_PID"; fi
        wait "$DOCKERD_PID" 2>/dev/null
        for p in $DOCKERD_CHILDREN; do  # its managed containerd, if it outlived dockerd
            kill -0 "$p" 2>/dev/null && { kill -TERM "$p"; sleep 2; kill -KILL "$p" 2>/dev/null; }
        done
    fi
    # mounts dockerd leaves in its exec root (e.g. exec/netns/default), deepest first
    awk -v d="$RUN/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
    rm -f "$COMPOSE_FILE"
    if [ "$PURGE" = 1 ]; then log "purging $STATE"; rm -rf "$STATE"; fi
    if [ "$OK" = 1 ] && [ "$rc" = 0 ]; then
        if [ "$KEEP" = 1 ]; then log "logs and results kept in $RUN"; else rm -rf "$RUN"; fi
        log "PASS in $(( $(date +%s) - START )) s"
    else
        log "logs kept in $RUN (dockerd.log, build.log, compose.log, *.json)"
        [ "$rc" = 0 ] && rc=1
    fi
    exit "$rc"
}
trap cleanup EXIT
on_signal() {
    log "interrupted"
    if [ -n "$CHILD" ]; then kill -TERM "$CHILD" 2>/dev/null; wait "$CHILD" 2>/dev/null; fi
    exit 130
}
trap on_signal INT TERM

# -- prerequisites ------------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "run as root (it starts its own dockerd)"
need_apt=""
command -v dockerd >/dev/null || need_apt="$need_apt docker.io"
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || need_apt="$need_apt docker-compose"
command -v debootstrap >/dev/null || need_apt="$need_apt debootstrap"
if [ -n "$need_apt" ]; then
    log "apt-get install$need_apt"
    bounded 300 apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive bounded 600 apt-get install -y -qq $need_apt >/dev/null
fi
command -v docker-compose >/dev/null || COMPOSE=(docker compose)
CMP=("${COMPOSE[@]}" -p "$PROJECT" -f "$COMPOSE_FILE")
mkdir -p "$STATE"
exec 9> "$STATE/lock"
flock -n 9 || die "another test run holds $STATE/lock"

# -- our own dockerd ----------------------------------------------------------------------------
SOCK="$RUN/docker.sock"
log "starting dockerd (data root $STATE/data, socket $SOCK)"
setsid dockerd --host "unix://$SOCK" --bridge=none --iptables=false --ip6tables=false \
    --storage-driver=overlay2 --data-root="$STATE/data" --exec-root="$RUN/exec" \
    --pidfile="$RUN/dockerd.pid" > "$RUN/dockerd.log" 2>&1 &
DOCKERD_PID=$!
export DOCKER_HOST="unix://$SOCK" DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
for _ in $(seq 120); do
    docker version >/dev/null 2>&1 && break
    kill -0 "$DOCKERD_PID" 2>/dev/null || die "dockerd exited: $(tail -5 "$RUN/dockerd.log")"
    sleep 0.5
done
docker version >/dev/null 2>&1 || die "dockerd not ready after 60 s"

# -- base image (debootstrap, once) -------------------------------------------------------------
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
    if [ ! -s "$STATE/base-bookworm.tar" ]; then
        log "debootstrap bookworm (minbase + python3) -> $STATE/base-bookworm.tar"
        bounded 900 debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
            bookworm "$RUN/rootfs" http://deb.debian.org/debian > "$RUN/debootstrap.log" 2>&1 \
            || die "debootstrap failed: $(tail -3 "$RUN/debootstrap.log")"
        tar -C "$RUN/rootfs" -c . > "$STATE/base-bookworm.tar.part" && mv "$STATE/base-bookworm.tar.part" "$STATE/base-bookworm.tar"
        rm -rf "$RUN/rootfs"
    fi
    log "docker import $BASE"
    bounded 300 docker import "$STATE/base-bookworm.tar" "$BASE" >/dev/null
fi

# -- the CPU torch wheel, served to the build on 127.0.0.1 ---------------------------------------
mkdir -p "$STATE/wheels"
if ! ls "$STATE/wheels"/torch-2.13.0+cpu-*.whl >/dev/null 2>&1; then
    log "pip download $TORCH_WHEEL_SPEC (the CPU wheel on this machine's disk)"
    bounded 600 pip download "$TORCH_WHEEL_SPEC" --no-deps -d "$STATE/wheels" > "$RUN/wheel.log" 2>&1 \
        || die "could not get the torch CPU wheel: $(tail -3 "$RUN/wheel.log")"
    ls "$STATE/wheels"/torch-2.13.0+cpu-*.whl >/dev/null 2>&1 || die "no torch-2.13.0+cpu wheel in $STATE/wheels"
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# a fixed port when free: the port is part of a build argument, so a new one would rebuild the image
WHEEL_PORT="${SEMALIGN_WHEEL_PORT:-38517}"
python3 -c "import socket, sys; socket.socket().bind(('127.0.0.1', int(sys.argv[1])))" "$WHEEL_PORT" 2>/dev/null \
    || WHEEL_PORT=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$STATE/wheels" "$WHEEL_PORT" > "$RUN/wheels-http.log" 2>&1 &
WHEEL_PID=$!

# -- build --------------------------------------------------------------------------------------
add_hosts=()
for h in pypi.org files.pythonhosted.org deb.debian.org; do
    ip=$(getent ahostsv4 "$h" | awk 'NR==1{print $1}')
    [ -n "$ip" ] && add_hosts+=(--add-host "$h:$ip")
done
ca_b64=""
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    ca_b64=$(cat /usr/local/share/ca-certificates/*.crt | base64 -w0)
fi
log "docker build $IMAGE (cpu flavour, base $BASE); log in $RUN/build.log"
b0=$(date +%s)
bounded 1800 docker build --network host "${add_hosts[@]}" \
    --build-arg BASE_IMAGE="$BASE" --build-arg TORCH_FLAVOUR=cpu \
    --build-arg TORCH_SPEC="torch==2.13.0+cpu" \
    --build-arg TORCH_PIP_ARGS="--find-links http://127.0.0.1:$WHEEL_PORT/" \
    --build-arg EXTRA_CA_B64="$ca_b64" \
    -f "$HERE/Dockerfile" -t "$IMAGE" "$ROOT" > "$RUN/build.log" 2>&1 \
    || die "docker build failed: $(tail -15 "$RUN/build.log")"
kill "$WHEEL_PID" 2>/dev/null || true; wait "$WHEEL_PID" 2>/dev/null || true; WHEEL_PID=""
SIZE=$(docker image inspect -f '{{.Size}}' "$IMAGE")
log "built in $(( $(date +%s) - b0 )) s; image size $((SIZE / 1000000)) MB"
bounded 180 docker run --rm --network host "$IMAGE" python -c "import torch, flwr, scenarios.cli; print('image ok: torch', torch.__version__, 'flwr', flwr.__version__)" >&2 \
    || die "the image does not import"

# -- compose files ------------------------------------------------------------------------------
bash "$HERE/gen_compose.sh" | diff -q - "$HERE/compose.yaml" >/dev/null \
    || die "docker/compose.yaml differs from docker/gen_compose.sh output (regenerate it)"
bash "$HERE/gen_compose.sh" --users 3 --host-network > "$COMPOSE_FILE"
AP_PORT=$(free_port)
export SEMALIGN_IMAGE="$IMAGE" SEMALIGN_RESULTS="$RUN/results" SEMALIGN_CERTS="$RUN/certs" \
    SEMALIGN_AP_PORT="$AP_PORT" SEMALIGN_USERS=3 SEMALIGN_PREPARE=synthetic \
    SEMALIGN_LATENTS=/cache/synthetic.npz SEMALIGN_SEED="$SEED" SEMALIGN_ITERATIONS="$ITERATIONS" \
    SEMALIGN_PILOTS="$PILOTS" SEMALIGN_TEST_SAMPLES="$TEST_SAMPLES" SEMALIGN_JOIN_TIMEOUT=300 \
    BASE_IMAGE="$BASE" TORCH_FLAVOUR=cpu
mkdir -p "$RUN/results" "$RUN/certs"
for f in "$HERE/compose.yaml" "$COMPOSE_FILE"; do
    (cd "$HERE" && "${COMPOSE[@]}" -f "$f" config -q) \
        || die "compose config rejects $f"
done

log "prepare: synthetic latents for 3 users into the cache volume"
bounded 300 "${CMP[@]}" run --rm -T prepare > "$RUN/prepare.log" 2>&1 || die "prepare failed: $(tail -5 "$RUN/prepare.log")"

ap_container() { compose ps -q ap; }
wait_ap() {  # wait_ap SECONDS: wait for the AP container to exit; its exit code in AP_CODE
    # (not inside $(...): a signal would then wait for the subshell instead of reaching our trap)
    local id; id=$(ap_container)
    [ -n "$id" ] || die "no ap container"
    bounded "$1" docker wait "$id" > "$RUN/ap.code" || die "the AP did not finish in time: $(compose logs --tail 20 ap 2>&1)"
    AP_CODE=$(cat "$RUN/ap.code")
}
check_results() {  # check_results FILE EXPECTED_COMPLETED EXPECTED_MISSING
    python3 - "$@" <<'EOF'
import json, sys
path, want, missing = sys.argv[1], sys.argv[2].split(","), [m for m in sys.argv[3].split(",") if m]
r = json.load(open(path))
done = [str(u) for u in r["completed_users"]]
ids = [str(u["id"]) for u in r["users"]]
status = r["user_status"]
print(f"{path}: completed_users {done}; per-user rows {ids}; status " +
      ", ".join(f"{k}:{'completed' if v['completed'] else 'NOT completed'} ({v['answered_rounds']} rounds)" for k, v in status.items()))
assert sorted(done) == sorted(want), f"completed_users {done}, expected {want}"
assert sorted(ids) == sorted(want), f"users rows {ids}, expected {want}"
for m in missing:
    assert m in status and not status[m]["completed"], f"user {m} should be listed as not completed: {status.get(m)}"
    assert 0 < status[m]["answered_rounds"] < r["iterations"], f"user {m} did not drop out mid-run: {status[m]}"
assert r["config"]["users"] == len(want) + len(missing)
EOF
}

# -- mode results: 3 users, then the same run with `semalign launch` ----------------------------
if [ "$MODE" = all ] || [ "$MODE" = results ]; then
    export SEMALIGN_RUN=compose SEMALIGN_ROUND_TIMEOUT="$ROUND_TIMEOUT" SEMALIGN_AP_ARGS="--tol 0"
    log "compose up: ap + user-0..2 (AP on 127.0.0.1:$AP_PORT)"
    r0=$(date +%s)
    bounded 180 "${CMP[@]}" up -d ap user-0 user-1 user-2 > "$RUN/up.log" 2>&1 || die "compose up failed: $(tail -5 "$RUN/up.log")"
    wait_ap 1500; code="$AP_CODE"
    compose logs --no-color ap > "$RUN/ap-compose.log" 2>&1
    [ "$code" = 0 ] || die "the AP exited with $code: $(tail -20 "$RUN/ap-compose.log")"
    log "compose run done in $(( $(date +%s) - r0 )) s; AP table:"
    tail -n 12 "$RUN/ap-compose.log" >&2
    check_results "$RUN/results/compose/results.json" 0,1,2 "" >&2 || die "results.json check failed"
    bounded 60 "${CMP[@]}" stop -t 5 > /dev/null 2>&1
    bounded 60 "${CMP[@]}" rm -f > /dev/null 2>&1

    log "reference: semalign launch with the same image, latents, seed and config"
    bounded 900 docker run --init --name "$LAUNCH_NAME" --network host \
        -v "${PROJECT}_cache:/cache" -v "$RUN/results:/out" "$IMAGE" \
        semalign launch --users 3 --latents /cache/synthetic.npz --seed "$SEED" --iterations "$ITERATIONS" \
        --pilots "$PILOTS" --test-samples "$TEST_SAMPLES" --tol 0 --out /out/launch --quiet \
        > "$RUN/launch.log" 2>&1 || die "semalign launch failed: $(tail -20 "$RUN/launch.log")"
    docker rm -f "$LAUNCH_NAME" >/dev/null 2>&1 || true
    python3 - "$RUN/results/compose/results.json" "$RUN/results/launch/results.json" >&2 <<'EOF' || die "compose and launch results differ"
import json, math, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
ua = {u["id"]: u for u in a["users"]}
ub = {u["id"]: u for u in b["users"]}
assert sorted(ua) == sorted(ub) == [0, 1, 2], (sorted(ua), sorted(ub))
print(f"{'user':>4} {'accuracy compose':>17} {'accuracy launch':>16} {'mse compose':>12} {'mse launch':>12}")
bad = []
for k in sorted(ua):
    print(f"{k:>4} {ua[k]['accuracy']:>17.4f} {ub[k]['accuracy']:>16.4f} {ua[k]['mse']:>12.6g} {ub[k]['mse']:>12.6g}")
    for key in ("accuracy", "mse", "nmse"):
        x, y = ua[k].get(key), ub[k].get(key)
        if (x is None) != (y is None) or (x is not None and not math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9)):
            bad.append((k, key, x, y))
assert not bad, f"differences: {bad}"
print("per-user accuracy/mse/nmse identical (rel 1e-6) between compose and semalign launch")
EOF
fi

# -- mode dropout: stop user-2 mid-run; the AP goes on without it -------------------------------
if [ "$MODE" = all ] || [ "$MODE" = dropout ]; then
    export SEMALIGN_RUN=dropout SEMALIGN_ROUND_TIMEOUT="$ROUND_TIMEOUT" SEMALIGN_ITERATIONS=20 SEMALIGN_AP_ARGS="--tol 0"
    log "compose up: ap + user-0..2; user-2 is stopped after round 1 (round timeout ${ROUND_TIMEOUT} s)"
    d0=$(date +%s)
    bounded 180 "${CMP[@]}" up -d ap user-0 user-1 user-2 > "$RUN/up-dropout.log" 2>&1 || die "compose up failed"
    seen=0 ap_id=$(ap_container)
    while [ "$(left)" -gt 0 ] && [ $(( $(date +%s) - d0 )) -lt 900 ]; do
        # the AP's run log lies in the bind-mounted results folder: cheap to poll
        if grep -qE "semalign.ap INFO round 1: " "$RUN/results/dropout/flower/logs/run.log" 2>/dev/null; then seen=1; break; fi
        [ "$(docker inspect -f '{{.State.Running}}' "$ap_id" 2>/dev/null)" = true ] \
            || die "the AP exited before round 1: $(compose logs --tail 20 ap 2>&1)"
        sleep 0.2
    done
    [ "$seen" = 1 ] || die "no 'round 1' in the AP log within 900 s"
    log "round 1 done: docker-compose stop user-2"
    bounded 60 "${CMP[@]}" stop -t 3 user-2 >/dev/null 2>&1 || die "could not stop user-2"
    wait_ap 1500; code="$AP_CODE"
    compose logs --no-color ap > "$RUN/ap-dropout.log" 2>&1
    [ "$code" = 0 ] || die "the AP exited with $code after the dropout: $(tail -20 "$RUN/ap-dropout.log")"
    log "dropout run done in $(( $(date +%s) - d0 )) s"
    check_results "$RUN/results/dropout/results.json" 0,1 2 >&2 || die "dropout results check failed"
    grep -E "disconnected|round [0-9]+: [0-9]+/3" "$RUN/ap-dropout.log" | sed 's/^.*| //' | tail -10 >&2 || true
    bounded 60 "${CMP[@]}" stop -t 5 > /dev/null 2>&1
    bounded 60 "${CMP[@]}" rm -f > /dev/null 2>&1
fi

# -- mode tls: the same 3-user run, every link over TLS ----------------------------------------
if [ "$MODE" = all ] || [ "$MODE" = tls ]; then
    export SEMALIGN_RUN=tls SEMALIGN_ROUND_TIMEOUT="$ROUND_TIMEOUT" SEMALIGN_ITERATIONS="$ITERATIONS" SEMALIGN_AP_ARGS="--tol 0" \
        SEMALIGN_TLS_DIR=/certs SEMALIGN_ROOT_CERTIFICATES=/certs/ca.pem
    log "TLS: semalign certs --host 127.0.0.1, then compose up ap + user-0..2 with --tls-dir / --root-certificates"
    bounded 120 docker run --rm --network host -v "$RUN/certs:/certs" "$IMAGE" \
        semalign certs --out /certs --host 127.0.0.1 > "$RUN/certs.log" 2>&1 || die "semalign certs failed: $(cat "$RUN/certs.log")"
    t0=$(date +%s)
    bounded 180 "${CMP[@]}" up -d ap user-0 user-1 user-2 > "$RUN/up-tls.log" 2>&1 || die "compose up failed"
    wait_ap 1500; code="$AP_CODE"
    compose logs --no-color > "$RUN/tls.log" 2>&1
    [ "$code" = 0 ] || die "the TLS run failed ($code): $(grep -E " ap[-_]" "$RUN/tls.log" | tail -20)"
    grep -q -- "--tls-dir /certs" "$RUN/tls.log" && grep -q -- "--root-certificates /certs/ca.pem" "$RUN/tls.log" \
        || die "the TLS options did not reach semalign ap/user"
    check_results "$RUN/results/tls/results.json" 0,1,2 "" >&2 || die "TLS results check failed"
    log "TLS run done in $(( $(date +%s) - t0 )) s"
    bounded 60 "${CMP[@]}" stop -t 5 > /dev/null 2>&1
    bounded 60 "${CMP[@]}" rm -f > /dev/null 2>&1
    unset SEMALIGN_TLS_DIR SEMALIGN_ROOT_CERTIFICATES
fi

log "image $IMAGE: $((SIZE / 1000000)) MB"
OK=1
