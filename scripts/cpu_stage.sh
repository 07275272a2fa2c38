#!/bin/bash
# One training stage of the four shipped mean-scale rates on this machine's CPU, and what must
# follow it. The CPU counterpart of scripts/gpu_stage.sh; every shipped mean-scale stage so far
# was made this way (see `codec-lib models` and data/checkpoints/manifest.json).
#
#   scripts/cpu_stage.sh train MINUTES SEED     # q2..q5 side by side, one thread each, niced
#   LR=3e-5 scripts/cpu_stage.sh train ...      # another learning rate (1e-4 by default)
#   scripts/cpu_stage.sh check SEED [ms|cc]     # ship decision: BSDS500 val loss, shipped vs run
#   scripts/cpu_stage.sh install SEED           # export the runs, copy + register them
#   scripts/cpu_stage.sh check-gpu FOLDER       # ship decision for a GPU stage's files, as `check`
#   scripts/cpu_stage.sh install-gpu FOLDER     # the same for a GPU stage's files (gpu_stage.sh)
#   scripts/cpu_stage.sh dependents             # re-point video, retrain mean-scale-gan, results
#   REFINE=0 scripts/cpu_stage.sh dependents    # the same without the refined Kodak run
#   scripts/cpu_stage.sh video MINUTES SEED     # retrain the P-frame codecs against today's intra
#   scripts/cpu_stage.sh video-check SEED       # ship decision: val loss, shipped vs run
#   scripts/cpu_stage.sh video-install SEED     # export + register them, redo the video report
#   scripts/cpu_stage.sh context MINUTES SEED   # train channel-context q2..q5 on today's mean-scale
#   scripts/cpu_stage.sh context-more MINUTES SEED  # continue the installed channel-context files
#   scripts/cpu_stage.sh check SEED cc          # ship decision for a context run (as `check`)
#   scripts/cpu_stage.sh context-install SEED   # export (only the cc networks) + register them
#   scripts/cpu_stage.sh keep-cc [REV]          # remake install's runs/cc-warm-qQ.pt from git REV
#
# `train` continues each rate from its shipped file for MINUTES of training (lr $LR, default
# 1e-4, a tenth of it for the last quarter of the time) on fresh crops (a new SEED), batch $BATCH
# of $CROP-pixel square crops of BSDS500 train + test (2 of 256 by default: the same pixels per
# step as s1-s17's 8 of 128, and 2.7 to 3.9 times their gain in a 35-minute A/B on whole
# BSDS500 val photos, `scripts/val_full.py`; README, "Training stages of the mean-scale
# models"); runs/ms-qQ-sSEED/ holds each run, runs/ms-qQ-sSEED.log its log and
# runs/ms-qQ-sSEED.cmd the exact command, which `install` records. Image runs use
# bfloat16 autocast (`--precision $PRECISION`, bf16 by default; README, "Training on a CPU in
# bfloat16"): about twice the steps of float32 on some CPUs (2.4 times on stage s12's), fewer on
# others (stage s11's), so
# time one step of each first (`bench._step_seconds`, same README section). `check` prints the RD loss of the
# shipped model and of each run on fit's 16 validation crops (never Kodak): install only when
# every rate improved.
# `install` exports each run (half precision, lineage and the exact command recorded, the
# Gaussian scale bound tuned on BSDS500 val: `export --tune-bound`, codec_lib.calibrate) and
# registers it. `dependents` redoes what depends on the mean-scale weights: the video models'
# intra references, the mean-scale-gan fine-tunes, the Kodak and screen-content results,
# perception and video reports, then the README's figures must be updated by hand from data/results/
# (`python scripts/stage_report.py` prints them, against the results `install` kept in runs/).
# `dependents` and `video-install` tune the P-frame Gaussians' scale bounds of both video models on
# pans of BSDS500 val (codec_lib.video_zoo.tune_bounds: one per channel, shared by the rates).
# `dependents` only re-points the video models at the new intra models; their P-frame parts were
# trained against older ones, so `video` continues both codecs from their shipped files for
# MINUTES (lr $LR, a tenth for the last quarter; in $PRECISION too, the frozen intra models in
# float32), side by side, against the installed mean-scale
# q2..q5; `video-check` compares each run's last validation loss (fixed synthetic clips of
# BSDS500 val, coded low-delay at all four rates; never BasketballPass) with the shipped codec's,
# and `video-install` exports them (lineage recorded) and measures them again.
# `context` trains the channel-conditional entropy models (codec_lib.channel_context) of the
# installed mean-scale q2..q5, their transforms frozen (--trainable cc), side by side at lr
# ${LR_CONTEXT:-1e-3}; `context-install` exports each as changes to its parent. A channel-context
# file loads only with the very parent weights it was trained on, so `dependents` trains them
# again after every image stage (CONTEXT_MINUTES, 30 by default), each cc network starting from
# the one it replaces (CC_WARM=1: `--warm runs/cc-warm-qQ.pt`, which `install` keeps whole and
# `keep-cc REV` remakes from the checkpoints committed at REV), and installs them.
# `context-more` continues the installed channel-context files instead (same parents) at lr
# ${LR_CONTEXT:-1e-3}.
# Needs CODEC_LIB_DATA: the folder holding bsds500/, kodak/ and video/ (see ../shared/data/README).
set -euo pipefail
cd "$(dirname "$0")/.."
QUALITIES=${QUALITIES:-2 3 4 5}
LR=${LR:-1e-4}   # the stage's lr (a stage at 3e-5 gained less than one at 1e-4: see README)
CROP=${CROP:-256} BATCH=${BATCH:-2}   # of `train` (stages s1-s17: CROP=128 BATCH=8)
PRECISION=${PRECISION:-bf16}   # of every training run (train, context, video): bf16 or fp32
PY=${PYTHON:-.venv/bin/python}
D=${CODEC_LIB_DATA:?set CODEC_LIB_DATA to the folder holding bsds500/ and kodak/}
export CODEC_LIB_DATA=$D
cmd() {  # the training command of rate $1, seed $2, MINUTES $3 (what the manifest records)
    echo "codec-lib --threads 1 train --arch mean-scale --N 64 --M 96 --synthesis deep --quality $1" \
        "--steps 1000000 --minutes $3 --batch-size $BATCH --crop $CROP --lr $LR --lr-drop 0.75 --seed $2" \
        "--precision $PRECISION" \
        "--train \"\$CODEC_LIB_DATA/bsds500/train\" \"\$CODEC_LIB_DATA/bsds500/test\"" \
        "--val \"\$CODEC_LIB_DATA/bsds500/val\" --out runs/ms-q$1-s$2 --checkpoint-every 250" \
        "--init data/checkpoints/mean-scale-q$1.pt"; }
vcmd() {  # the training command of P-frame codec $1, seed $2, MINUTES $3
    echo "codec-lib --threads 1 train-video --coding $1 --steps 1000000 --minutes $3 --batch-size 4" \
        "--crop 128 --chain 4 --lr $LR --lr-drop 0.75 --warmup 0 --precision $PRECISION --photos" \
        "\"\$CODEC_LIB_DATA/bsds500/train\" \"\$CODEC_LIB_DATA/bsds500/test\"" \
        "--clips \"\$CODEC_LIB_DATA/video/bikes.mp4\" --clip-frames 250" \
        "--val \"\$CODEC_LIB_DATA/bsds500/val\" --intra" \
        "$(printf 'data/checkpoints/mean-scale-q%s.pt ' 2 3 4 5)--checkpoint-every 150" \
        "--init data/checkpoints/video-$1.pt --seed $2 --out runs/v-$1-s$2"; }
ccmd() {  # the training command of the channel-context model of rate $1, seed $2, MINUTES $3
    echo "codec-lib --threads 1 train --arch channel-context --N 64 --M 96 --synthesis deep" \
        "--quality $1 --trainable cc --steps 1000000 --minutes $3 --batch-size 8 --crop 256" \
        "--lr ${LR_CONTEXT:-1e-3} --lr-drop 0.75 --seed $2 --precision $PRECISION" \
        "--train \"\$CODEC_LIB_DATA/bsds500/train\" \"\$CODEC_LIB_DATA/bsds500/test\"" \
        "--val \"\$CODEC_LIB_DATA/bsds500/val\" --out runs/cc-q$1-s$2-$(parent8 "$1")" \
        "--checkpoint-every 200 --init data/checkpoints/${CC_INIT:-mean-scale}-q$1.pt" \
        "${CC_WARM:+--warm runs/cc-warm-q$1.pt}"; }
parent8() {  # first 8 hex digits of the installed mean-scale q$1's sha256 (names its runs)
    "$PY" -c "from codec_lib import zoo; print(zoo.resolve('mean-scale', $1)['sha256'][:8])"; }
side_by_side() {  # run the commands in these .cmd files at once (niced), each logging to its
                  # .log; fails when any of them failed
    local pids=() status=0 f p
    for f in "$@"; do
        eval nice -n 10 "$PY" -m codec_lib "$(sed 's/^codec-lib //' "$f")" > "${f%.cmd}.log" 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || status=1; done
    return $status
}
every_rate() {  # command $1 of every rate, run prefix $2, MINUTES $3, seed $4: side by side,
                # each command in runs/$2-qQ-sSEED.cmd
    local files=() q
    mkdir -p runs
    for q in $QUALITIES; do
        "$1" "$q" "$4" "$3" > "runs/$2-q$q-s$4.cmd"
        files+=("runs/$2-q$q-s$4.cmd")
    done
    side_by_side "${files[@]}"; }
keep_cc() {  # runs/cc-warm-qQ.pt: each channel-context model, whole, from checkpoint folder $1
    mkdir -p runs   # (default: the installed one); `dependents` warm-starts the cc networks from them
    CODEC_LIB_CHECKPOINTS=${1:-${CODEC_LIB_CHECKPOINTS:-}} "$PY" - $QUALITIES <<'EOF'
import sys
from codec_lib import zoo
for q in map(int, sys.argv[1:]):
    try:
        m, e = zoo.load_model("channel-context", q), zoo.resolve("channel-context", q)
    except zoo.ModelError as err:
        print(f"no channel-context q{q} to keep ({err})")
        continue
    own = [s for s in e["training"].get("stages", []) if "--arch channel-context" in s["command"]]
    zoo.save_checkpoint(m, f"runs/cc-warm-q{q}.pt", "channel-context", q, m.lmbda, meta={
        "kept_from": {"file": e["file"], "sha256": e["sha256"], "cc_stages": own}})
    print(f"runs/cc-warm-q{q}.pt: channel-context q{q} ({e['sha256'][:16]}...), whole")
EOF
}
case "${1:-}" in
video)
    minutes=${2:?minutes of training}; seed=${3:?seed}
    mkdir -p runs
    for c in residual conditional; do vcmd "$c" "$seed" "$minutes" > "runs/v-$c-s$seed.cmd"; done
    side_by_side runs/v-{residual,conditional}-s"$seed".cmd
    ;;
video-check)
    seed=${2:?seed}
    "$PY" - "$seed" <<'EOF'
import sys, torch
from codec_lib import zoo
from codec_lib.video_train import VideoTrainConfig, evaluate_video_loss, val_clips
torch.set_num_threads(2)
ok = True
for c in ("residual", "conditional"):
    ck = torch.load(f"runs/v-{c}-s{sys.argv[1]}/last.pt", map_location="cpu", weights_only=False)
    cfg = VideoTrainConfig(**ck["config"])
    h = [e for e in ck["history"] if "val_loss" in e]
    if not h:
        sys.exit(f"runs/v-{c}-s{sys.argv[1]} was trained without --val: no ship decision")
    intras = [zoo.load_checkpoint(p).eval() for p in cfg.intra]
    shipped = zoo.load_model(f"video-{c}", 2)             # all its rates; set_rate picks one
    before = evaluate_video_loss(shipped, intras, val_clips(cfg.val, cfg), cfg.lmbdas)["loss"]
    ok &= h[-1]["val_loss"] < before
    print(f"video-{c}: shipped {before:.4f}, run {h[-1]['val_loss']:.4f} "
          f"({100 * (h[-1]['val_loss'] / before - 1):+.1f} %) at step {h[-1]['step']}")
print("both improved: install" if ok else "not both improved: do not install")
sys.exit(0 if ok else 1)
EOF
    ;;
video-install)
    seed=${2:?seed}; r=data/results
    for c in residual conditional; do
        "$PY" -m codec_lib --threads 2 export-video "runs/v-$c-s$seed" "data/checkpoints/video-$c.pt" \
            --name "video-$c" --command "$(cat "runs/v-$c-s$seed.cmd")" --register --force \
            --tune-bound "$D/bsds500/val"
    done
    "$PY" - <<'EOF'
from codec_lib import zoo     # which intra models the P-frame parts were trained with: the
for name in ("video-residual", "video-conditional"):   # note `dependents` extends later
    for q in (2, 3, 4, 5):
        e = zoo.resolve("mean-scale", q)
        zoo.annotate(name, q, intra_note=f"the P-frame parts were last trained with mean-scale "
                     f"q{q} ({e['training']['total_steps']:,} steps, sha256 {e['sha256'][:16]}...)")
EOF
    "$PY" -m codec_lib.video_report --frames 32 --json $r/basketballpass32-video.json \
        --md $r/basketballpass32-video.md --png $r/basketballpass32-video.png --force
    ;;
keep-cc)   # keep-cc [REV]: runs/cc-warm-qQ.pt from the channel-context files committed at REV
    rev=${2:-HEAD}
    git rev-parse -q --verify "$rev^{commit}" > /dev/null || {
        echo "keep-cc: '$rev' is not a commit" >&2; exit 2; }
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    git archive "$rev" data/checkpoints | tar -x -C "$tmp"
    keep_cc "$tmp/data/checkpoints"
    ;;
context)   # CC_WARM=1: start the cc networks from those `install` kept (runs/cc-warm-qQ.pt)
    for q in $QUALITIES; do
        [ -z "${CC_WARM:-}" ] || [ -f "runs/cc-warm-q$q.pt" ] || {
            echo "runs/cc-warm-q$q.pt: missing (\`install\` keeps it, \`keep-cc REV\` remakes it from the" \
                 "files committed before the install): run one of them, or run without CC_WARM" >&2; exit 1; }
    done
    every_rate ccmd cc "${2:?minutes of training}" "${3:?seed}"
    ;;
context-more)
    CC_INIT=channel-context every_rate ccmd cc "${2:?minutes of training}" "${3:?seed}"
    ;;
context-install)
    seed=${2:?seed}
    for q in $QUALITIES; do
        run=$(grep -o 'runs/cc-q[0-9]*-s[0-9]*-[0-9a-f]*' "runs/cc-q$q-s$seed.cmd")
        [ "$run" = "runs/cc-q$q-s$seed-$(parent8 "$q")" ] || {
            echo "$run was trained on other mean-scale q$q weights: run 'context' again" >&2; exit 1; }
        "$PY" -m codec_lib --threads 2 export "$run" "data/checkpoints/channel-context-q$q.pt" \
            --name channel-context --quality "$q" --force --register --tune-bound "$D/bsds500/val" \
            --command "$(cat "runs/cc-q$q-s$seed.cmd")" \
            --data "BSDS500 train + test (400 images), validated on BSDS500 val"
    done
    ;;
train)
    every_rate cmd ms "${2:?minutes of training}" "${3:?seed (a new one gives fresh crops)}"
    ;;
check)    # check SEED [ms|cc]: the runs of `train` (ms, default) or of `context`/`context-more` (cc)
    seed=${2:?seed}; kind=${3:-ms}
    "$PY" - "$D/bsds500/val" "$seed" "$kind" $QUALITIES <<'EOF'
import json, shlex, sys
from codec_lib import zoo
from codec_lib.train import val_images, evaluate_loss
folder, seed, kind = sys.argv[1:4]
name = {"ms": "mean-scale", "cc": "channel-context"}[kind]
ok = True
for q in map(int, sys.argv[4:]):
    cmd = shlex.split(open(f"runs/{kind}-q{q}-s{seed}.cmd").read())
    run, crop = cmd[cmd.index("--out") + 1], int(cmd[cmd.index("--crop") + 1])
    val = val_images(folder, crop)                   # the run's own validation crops
    m = zoo.load_model(name, q)
    shipped = evaluate_loss(m, val, m.lmbda)["loss"]
    h = [e for e in json.load(open(f"{run}/history.json")) if "val_loss" in e]
    last = h[-1]["val_loss"]
    ok &= last < shipped
    print(f"q{q}: shipped {shipped:.4f}, run {last:.4f} ({100 * (last / shipped - 1):+.1f} %) at step {h[-1]['step']}")
print("every rate improved: install" if ok else "not every rate improved: do not install")
sys.exit(0 if ok else 1)
EOF
    ;;
install)
    seed=${2:?seed}; out="runs/exports-s$seed"; mkdir -p "$out"
    keep_cc   # the channel-context models, whole: they load only with the parent about to be replaced
    cp data/results/kodak-rd.json runs/kodak-rd-before.json   # scripts/stage_report.py compares
    for q in $QUALITIES; do    # export first: the lineage reads the shipped file's sha256
        "$PY" -m codec_lib --threads 2 export "runs/ms-q$q-s$seed" "$out/mean-scale-q$q.pt" \
            --name mean-scale --quality "$q" --force --tune-bound "$D/bsds500/val" \
            --command "$(cat "runs/ms-q$q-s$seed.cmd")" \
            --data "BSDS500 train + test (400 images), validated on BSDS500 val"
    done
    PYTHON="$PY" QUALITIES="$QUALITIES" scripts/gpu_stage.sh install "$out"
    ;;
check-gpu)   # check-gpu FOLDER: RD loss of the installed files and of a GPU stage's, as `check`
    folder=${2:?folder holding the mean-scale-qQ.pt of a GPU stage}
    "$PY" - "$D/bsds500/val" "$folder" $QUALITIES <<'EOF'
import sys
import torch
from codec_lib import zoo
from codec_lib.train import val_images, evaluate_loss
torch.set_num_threads(2)
val = val_images(sys.argv[1], 256)                   # the GPU stage's validation crops
ok = True
for q in map(int, sys.argv[3:]):
    m, new = zoo.load_model("mean-scale", q), zoo.load_checkpoint(f"{sys.argv[2]}/mean-scale-q{q}.pt")
    a, b = evaluate_loss(m, val, m.lmbda)["loss"], evaluate_loss(new, val, m.lmbda)["loss"]
    ok &= b < a
    print(f"q{q}: shipped {a:.4f}, stage {b:.4f} ({100 * (b / a - 1):+.1f} %)")
print("every rate improved: install" if ok else "not every rate improved: do not install")
sys.exit(0 if ok else 1)
EOF
    ;;
install-gpu)   # install-gpu FOLDER: the files of a `gpu_stage.sh run` (its files_at), as `install`
    folder=${2:?folder holding the mean-scale-qQ.pt of a GPU stage}
    keep_cc
    cp data/results/kodak-rd.json runs/kodak-rd-before.json
    PYTHON="$PY" QUALITIES="$QUALITIES" scripts/gpu_stage.sh install "$folder"
    ;;
dependents)
    K="$D/kodak"; cl() { "$PY" -m codec_lib --threads 1 "$@"; }
    "$PY" - "$D/bsds500/val" <<'EOF'
import sys
from codec_lib import zoo
from codec_lib.video_zoo import repoint_intra, tune_bounds
for name in ("video-residual", "video-conditional"):   # P-frame parts unchanged, notes kept
    notes = {e["quality"]: e.get("intra_note") for e in zoo.read_manifest()["models"]
             if e["name"] == name}
    print(name, repoint_intra(zoo.checkpoint_dir() / f"{name}.pt")[:16])
    _, rec = tune_bounds(zoo.checkpoint_dir() / f"{name}.pt", [sys.argv[1]])
    print(name, "P-frame scale bounds tuned, estimated rate:",
          {k: v["rate"] for k, v in rec.items() if k != "tuned_on"})
    zoo.register(zoo.checkpoint_dir() / f"{name}.pt")
    for q, note in notes.items():
        steps = zoo.resolve("mean-scale", q)["training"]["total_steps"]
        if note:
            note = note.split("; the intra model referenced here")[0]
            zoo.annotate(name, q, intra_note=f"{note}; the intra model referenced here is "
                         f"its continuation ({steps:,} steps)")
EOF
    gan() {  # mean-scale-gan q$1 with beta $2 into run $3: g_s fine-tuned against a discriminator
        echo "codec-lib --threads 1 train --arch mean-scale --N 64 --M 96 --quality $1 --steps 2000" \
            "--batch-size 8 --crop 128 --lr 1e-4 --lr-drop 0.8 --beta $2 --disc-channels 32" \
            "--disc-lr 4e-4 --precision $PRECISION --trainable g_s" \
            "--train \"\$CODEC_LIB_DATA/bsds500/train\" \"\$CODEC_LIB_DATA/bsds500/test\"" \
            "--val \"\$CODEC_LIB_DATA/bsds500/val\"" \
            "--out $3 --checkpoint-every 250 --init data/checkpoints/mean-scale-q$1.pt"; }
    run() {  # one run folder per parent: resumes after an interruption, never reuses a stale run
        echo "runs/gan-q$1-$(parent8 "$1")"; }
    pids=()
    for qb in 2:0.2 4:0.5; do
        q=${qb%:*}; b=${qb#*:}
        eval nice -n 5 "$PY" -m codec_lib "$(gan "$q" "$b" "$(run "$q")" | sed 's/^codec-lib //')" \
            > "runs/gan-q$q.log" 2>&1 &
        pids+=($!)
    done
    r=data/results   # while the decoders train: the new mean-scale on Kodak, plain and refined
    cl compare "$K" --models mean-scale --reuse $r/kodak-rd.json --json runs/kodak-ms.json -q --force
    if [ "${REFINE:-1}" != 0 ]; then   # REFINE=0 skips it (about 30 minutes of one core)
        cl compare "$K" --models mean-scale --refine 30 --reuse $r/kodak-rd.json runs/kodak-ms.json \
            --json $r/kodak-refine.json --plot $r/kodak-refine.png --table $r/kodak-refine.md -q --force
    fi
    for p in "${pids[@]}"; do wait "$p"; done
    for qb in 2:0.2 4:0.5; do
        q=${qb%:*}; b=${qb#*:}
        cl export "$(run "$q")" "data/checkpoints/mean-scale-gan-q$q.pt" --name mean-scale-gan \
            --quality "$q" --command "$(gan "$q" "$b" "$(run "$q")")" --force \
            --data "BSDS500 train + test (400 images), validated on BSDS500 val"
        "$PY" -c "from codec_lib import zoo; zoo.register('data/checkpoints/mean-scale-gan-q$q.pt')"
    done
    # the channel-context add-ons load only with the weights they were trained on: train them again
    CC_WARM=1 bash scripts/cpu_stage.sh context "${CONTEXT_MINUTES:-30}" "${CONTEXT_SEED:-1}"
    bash scripts/cpu_stage.sh context-install "${CONTEXT_SEED:-1}"
    cl compare "$K" --reuse $r/kodak-rd.json runs/kodak-ms.json --record --json $r/kodak-rd.json \
        --plot $r/kodak-rd.png --table $r/kodak-rd.md -q --force
    if [ -d "$D/screen_content" ]; then   # chapter 10's domain-shift table (classic codecs reused)
        cl compare "$D/screen_content" --models mean-scale factorized --reuse $r/screen-rd.json \
            --json $r/screen-rd.json --plot $r/screen-rd.png --table $r/screen-rd.md -q --force
    fi
    "$PY" -m codec_lib.rdp --images "$K" --pairs mean-scale:mean-scale-gan --qualities 2 4 \
        --baselines jpeg avif --json $r/kodak-rdp.json -f
    "$PY" -m codec_lib.video_report --frames 32 --json $r/basketballpass32-video.json \
        --md $r/basketballpass32-video.md --png $r/basketballpass32-video.png --force
    "$PY" -m codec_lib.bench --limit 8 --train-steps 60 --json $r/bench-kodak8-cpu.json
    ;;
*)
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    exit 2
    ;;
esac
