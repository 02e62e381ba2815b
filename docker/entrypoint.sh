#!/bin/bash
# Entry point of the semalign image: the first argument picks the role.
#
#   prepare  build the shared encoder/latent cache once (SEMALIGN_PREPARE=zoo, the default),
#            or write a synthetic latents file for a quick demo (SEMALIGN_PREPARE=synthetic)
#   ap       the AP: `semalign ap` (SuperLink + ServerApp run), results in $SEMALIGN_OUT
#   user     one user device: `semalign user` (a SuperNode that joins the AP)
#   help     this text
#   anything else runs as a command (`semalign launch ...`, `bash`, `python ...`)
#
# Extra arguments after the role are appended to the semalign command line.
# Settings (environment; empty = the semalign default):
#   every role : SEMALIGN_CACHE_DIR (/cache), SEMALIGN_ZOO_PROFILE (default), SEMALIGN_LATENTS (.npz)
#   prepare    : SEMALIGN_PREPARE (zoo|synthetic), SEMALIGN_USERS, SEMALIGN_SEED (synthetic)
#   ap         : SEMALIGN_USERS (4), SEMALIGN_AP_BIND (0.0.0.0), SEMALIGN_AP_PORT (9092), SEMALIGN_OUT (/out),
#                SEMALIGN_SEED, SEMALIGN_ITERATIONS, SEMALIGN_PILOTS, SEMALIGN_TEST_SAMPLES, SEMALIGN_SNR,
#                SEMALIGN_AP_ENCODER, SEMALIGN_USER_ENCODERS, SEMALIGN_DEVICE, SEMALIGN_ROUND_TIMEOUT,
#                SEMALIGN_JOIN_TIMEOUT, SEMALIGN_MIN_USERS, SEMALIGN_TLS_DIR, SEMALIGN_AP_ARGS (more flags)
#   user       : SEMALIGN_USER_ID (required), SEMALIGN_AP (ap:9092), SEMALIGN_ENCODER, SEMALIGN_USER_SNR,
#                SEMALIGN_DEVICE (cpu|cuda), SEMALIGN_USER_PORT (local ClientAppIo port; 0 = free),
#                SEMALIGN_ROOT_CERTIFICATES (CA file: TLS), SEMALIGN_USER_ARGS (more flags)
set -eu

role="${1:-help}"
[ $# -gt 0 ] && shift

argv=()
opt() {  # opt FLAG VALUE: add "FLAG VALUE" to argv when VALUE is not empty
    if [ -n "$2" ]; then argv+=("$1" "$2"); fi
}

cache="${SEMALIGN_CACHE_DIR:-/cache}"
mkdir -p "$cache" 2>/dev/null || true

case "$role" in
prepare)
    mode="${SEMALIGN_PREPARE:-zoo}"
    if [ "$mode" = synthetic ]; then
        latents="${SEMALIGN_LATENTS:-$cache/synthetic.npz}"
        users="${SEMALIGN_USERS:-4}"
        seed="${SEMALIGN_SYNTHETIC_SEED:-1}"
        if [ -f "$latents" ]; then echo "prepare: $latents exists"; exit 0; fi
        echo "prepare: writing synthetic latents for $users users to $latents"
        exec python -c "import sys
from scenarios.synthetic import make_synthetic
from scenarios.latents import save_npz_latents
save_npz_latents(make_synthetic(users=int(sys.argv[1]), train=int(sys.argv[2]), test=int(sys.argv[3]), seed=int(sys.argv[4])), sys.argv[5])
print('prepare: done', sys.argv[5])" "$users" "${SEMALIGN_SYNTHETIC_TRAIN:-1000}" "${SEMALIGN_SYNTHETIC_TEST:-300}" "$seed" "$latents"
    fi
    if [ "$mode" != zoo ]; then echo "prepare: SEMALIGN_PREPARE must be zoo or synthetic" >&2; exit 2; fi
    if [ -n "${SEMALIGN_LATENTS:-}" ]; then echo "prepare: SEMALIGN_LATENTS is set; nothing to build"; exit 0; fi
    if [ "${SEMALIGN_TORCH_FLAVOUR:-}" = cpu ]; then
        echo "prepare: this image is the cpu flavour (no timm): it cannot train the encoder zoo." >&2
        echo "  Build the cache with the full image (TORCH_FLAVOUR=cuda) or on the host into the cache volume," >&2
        echo "  or use SEMALIGN_PREPARE=synthetic / SEMALIGN_LATENTS=<file.npz>." >&2
        exit 2
    fi
    exec semalign encoders build --cache-dir "$cache" --zoo-profile "${SEMALIGN_ZOO_PROFILE:-default}" "$@"
    ;;
ap)
    argv=(semalign ap)
    opt --users "${SEMALIGN_USERS:-4}"
    opt --host "${SEMALIGN_AP_BIND:-0.0.0.0}"
    opt --port "${SEMALIGN_AP_PORT:-9092}"
    opt --out "${SEMALIGN_OUT:-/out}"
    opt --cache-dir "$cache"
    opt --zoo-profile "${SEMALIGN_ZOO_PROFILE:-}"
    opt --latents "${SEMALIGN_LATENTS:-}"
    opt --seed "${SEMALIGN_SEED:-}"
    opt --iterations "${SEMALIGN_ITERATIONS:-}"
    opt --pilots "${SEMALIGN_PILOTS:-}"
    opt --test-samples "${SEMALIGN_TEST_SAMPLES:-}"
    opt --snr "${SEMALIGN_SNR:-}"
    opt --ap-encoder "${SEMALIGN_AP_ENCODER:-}"
    opt --user-encoders "${SEMALIGN_USER_ENCODERS:-}"
    opt --device "${SEMALIGN_AP_DEVICE:-}"
    opt --round-timeout "${SEMALIGN_ROUND_TIMEOUT:-}"
    opt --join-timeout "${SEMALIGN_JOIN_TIMEOUT:-}"
    opt --min-users "${SEMALIGN_MIN_USERS:-}"
    opt --tls-dir "${SEMALIGN_TLS_DIR:-}"
    read -r -a more <<< "${SEMALIGN_AP_ARGS:-}"
    echo "+ ${argv[*]} ${more[*]} $*"
    exec "${argv[@]}" "${more[@]}" "$@"
    ;;
user)
    if [ -z "${SEMALIGN_USER_ID:-}" ]; then echo "user: set SEMALIGN_USER_ID" >&2; exit 2; fi
    argv=(semalign user)
    opt --id "$SEMALIGN_USER_ID"
    opt --ap "${SEMALIGN_AP:-ap:9092}"
    opt --cache-dir "$cache"
    opt --zoo-profile "${SEMALIGN_ZOO_PROFILE:-}"
    opt --latents "${SEMALIGN_LATENTS:-}"
    opt --encoder "${SEMALIGN_ENCODER:-}"
    opt --snr "${SEMALIGN_USER_SNR:-}"
    opt --device "${SEMALIGN_DEVICE:-}"
    opt --port "${SEMALIGN_USER_PORT:-}"
    opt --root-certificates "${SEMALIGN_ROOT_CERTIFICATES:-}"
    read -r -a more <<< "${SEMALIGN_USER_ARGS:-}"
    echo "+ ${argv[*]} ${more[*]} $*"
    exec "${argv[@]}" "${more[@]}" "$@"
    ;;
help|--help|-h)
    sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
    ;;
*)
    exec "$role" "$@"
    ;;
esac
