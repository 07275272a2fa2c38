#!/bin/bash
# One training stage of the four shipped mean-scale rates on a lent GPU, in one device call.
#
# The device tool sends the working tree (at most 64 MiB: the tracked files take about 49, BSDS500 train 15) and
# nothing beside it, and the GPU machine has PyTorch but not this project's venv. So:
#
#   here:        scripts/gpu_stage.sh prepare            # BSDS500 train + 16 val images -> .gpu_data/
#   on the GPU:  scripts/gpu_stage.sh run MINUTES SEED   # device run, carry [".gpu_data"]; files -> $OUT
#   here:        scripts/cpu_stage.sh check-gpu FOLDER   # FOLDER: the run's files_at; val loss
#   here:        scripts/cpu_stage.sh install-gpu FOLDER # registers them
#
#   here:        scripts/gpu_stage.sh wheels             # CompressAI's wheels for the GPU's python3
#   on the GPU:  scripts/gpu_stage.sh bench [STEPS]      # carry [".whl"]: fit vs CompressAI -> $OUT
#
# One call can do both (about a minute for the bench; keep the whole call under 600 s):
#   scripts/gpu_stage.sh bench && scripts/gpu_stage.sh run 7 SEED   # carry [".gpu_data", ".whl"]
#
# `run` trains q2..q5 side by side on the one GPU, each from its shipped file
# (data/checkpoints/mean-scale-qQ.pt), for MINUTES of training (`train --minutes`: lr 1e-4, 1e-5
# for the last quarter of the time), batch 16 of 256x256 crops, then exports each run (half
# precision, lineage recorded) to $OUT/mean-scale-qQ.pt, with the logs in $OUT/logs.tar.gz.
# Only BSDS500 *train* travels (train + test do not fit beside the tracked files); the 16
# validation crops are the ones every CPU stage reported. `install` copies the four files into
# data/checkpoints/ and registers them (`cpu_stage.sh install-gpu` first keeps what `dependents`
# needs of the old files); then redo what depends on mean-scale (`cpu_stage.sh dependents`).
# Stage s19 (2026-12-04, H200, 8 minutes): about 12,400 steps per rate, 26 steps/s each with the
# four side by side (GPU 93-98 % busy, 6.8 GB); s20 (6.5 minutes): about 11,550, 29.6 steps/s.
# Both ran in bfloat16 autocast (fit's GPU default); `run` now trains in float32 (PRECISION=bf16
# for the old way): on the H200 the bf16 step made 9 to 11 % fewer images a second than float32's here
# (TF32 convolutions; `bench`, four runs, README "Benchmarks").
# `bench` times training on the GPU (`python -m codec_lib.bench --device cuda --train-only`):
# `fit` in float32 and in its GPU default (bfloat16 autocast, channels-last) against a plain
# CompressAI loop, batch 16 of 256x256 crops, into $OUT/bench-gpu.json. The GPU machine has
# PyTorch and torchvision but not CompressAI: `wheels` fetches it (and pytorch-msssim) for that
# machine's Python 3.12 into .whl/ (about 0.5 MB, ignored by git), and `bench` installs them.
# Off a GPU, `run` trains on the CPU (a tiny MINUTES checks the script end to end).
set -euo pipefail
cd "$(dirname "$0")/.."
QUALITIES=${QUALITIES:-2 3 4 5}
loader_workers() {
    # loader workers hand batches over through /dev/shm: a small one (a container's 64 MB) would
    # kill them mid-run, so load in the training processes then
    local shm; shm=$(df -Pm /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }'); shm=${shm:-0}
    local w=${WORKERS:-$([ "$shm" -ge 2048 ] && echo 3 || echo 0)}
    echo "/dev/shm: $shm MB free, $w loader workers per run" >&2
    echo "$w"
}
case "${1:-}" in
prepare)
    src=${CODEC_LIB_DATA:?set CODEC_LIB_DATA to the folder holding bsds500/}/bsds500
    rm -rf .gpu_data && mkdir -p .gpu_data/bsds500/train .gpu_data/bsds500/val
    cp "$src"/train/*.jpg .gpu_data/bsds500/train/
    ls "$src"/val/*.jpg | sort | head -16 | xargs -I{} cp {} .gpu_data/bsds500/val/
    du -sh .gpu_data
    ;;
run)
    minutes=${2:?minutes of training}; seed=${3:?seed (a new one gives fresh crops)}
    out=${OUT:-runs/gpu-out}; mkdir -p "$out" runs/gpu-logs
    py=${PYTHON:-python3}
    export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
    $py -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
    workers=$(loader_workers)
    cmd() { echo "codec-lib --threads 2 train --arch mean-scale --N 64 --M 96 --synthesis deep --quality $1" \
        "--steps 1000000 --minutes $minutes --batch-size 16 --crop 256 --lr 1e-4 --lr-drop 0.75" \
        "--seed $seed --workers $workers --precision ${PRECISION:-fp32} --train .gpu_data/bsds500/train --val .gpu_data/bsds500/val" \
        "--out runs/gpu-q$1-s$seed --checkpoint-every 1000 --init data/checkpoints/mean-scale-q$1.pt"; }
    pids=()
    for q in $QUALITIES; do
        # shellcheck disable=SC2046
        $py -m codec_lib $(cmd "$q" | sed 's/^codec-lib //') > "runs/gpu-logs/train-q$q.log" 2>&1 &
        pids+=($!)
    done
    status=0
    for p in "${pids[@]}"; do wait "$p" || status=1; done
    pids=()
    for q in $QUALITIES; do      # the exports side by side too: the device time is counted
        cp "runs/gpu-q$q-s$seed/history.json" "runs/gpu-logs/history-q$q.json" || true
        tail -c 600 "runs/gpu-logs/train-q$q.log" | tr '\r' '\n' | tail -3
        [ "$status" = 0 ] || continue
        $py -m codec_lib export "runs/gpu-q$q-s$seed" "$out/mean-scale-q$q.pt" \
            --name mean-scale --quality "$q" --command "$(cmd "$q")" --force \
            --tune-bound .gpu_data/bsds500/val \
            --data "BSDS500 train (200 images), validated on 16 BSDS500 val images" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || status=1; done
    tar czf "$out/logs.tar.gz" -C runs gpu-logs
    exit $status
    ;;
wheels)
    py=${PYTHON:-.venv/bin/python}
    mkdir -p .whl
    $py -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_34_x86_64 --platform manylinux_2_17_x86_64 -d .whl \
        compressai==1.2.8 pytorch-msssim==1.0.0
    ls -l .whl
    ;;
bench)
    steps=${2:-100}
    out=${OUT:-runs/gpu-out}; mkdir -p "$out"
    py=${PYTHON:-python3}
    if ! $py -c "import compressai" 2>/dev/null; then
        ls .whl/compressai-*.whl > /dev/null || { echo "no .whl/: run 'scripts/gpu_stage.sh wheels' here and carry .whl" >&2; exit 1; }
        $py -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/site .whl/*.whl
        export PYTHONPATH=/tmp/site
    fi
    export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD PYTHONUNBUFFERED=1
    # fit's own loader workers (data.default_workers) unless WORKERS says how many
    $py -m codec_lib.bench --device cuda --train-only --train-steps "$steps" --train-batch 16 \
        --train-crop 256 ${WORKERS:+--train-workers "$WORKERS"} --json "$out/bench-gpu.json"
    ;;
install)
    folder=${2:?folder holding mean-scale-qQ.pt}
    py=${PYTHON:-.venv/bin/python}
    for q in $QUALITIES; do
        [ -f "$folder/mean-scale-q$q.pt" ] || { echo "no $folder/mean-scale-q$q.pt" >&2; exit 1; }
    done
    for q in $QUALITIES; do cp "$folder/mean-scale-q$q.pt" "data/checkpoints/mean-scale-q$q.pt"; done
    $py - $QUALITIES <<'EOF'
import sys
from codec_lib import zoo
for q in map(int, sys.argv[1:]):
    e = zoo.register(f"data/checkpoints/mean-scale-q{q}.pt", default=(q == 4))
    t = e["training"]
    print(f"mean-scale q{q}: {t['steps']} steps on {t['device']} ({t.get('total_steps')} in all), sha256 {e['sha256'][:16]}")
EOF
    ;;
*)
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    exit 2
    ;;
esac
