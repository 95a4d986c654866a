#!/usr/bin/env bash
# The checks of a session lent a CUDA GPU, in order of importance, each bounded in
# time (a lease is short): the core test suite on CUDA, the widget's workers on
# CUDA (Stop, cancel, memory freed; gpu_check.py), default-preset training on the
# four shared examples (zebra's model also profiled), and full-resolution time
# and memory on the large images. benchmarks/README.md, "On a GPU", has the
# figures of the last such session.
#
#     bash benchmarks/gpu_session.sh OUTDIR
#
# Needs napari_semia importable (e.g. PYTHONPATH=src) and the shared examples at
# run_benchmark.DEFAULT_DATA. The widget tests are left out: they need napari and
# Qt, which such a machine may not have. Writes OUTDIR/log.txt, the trained
# models OUTDIR/<case>.semia and everything else in OUTDIR/results.tgz.
set -u
OUT=${1:?usage: gpu_session.sh OUTDIR}
WORK=$OUT/work
mkdir -p "$WORK"
export PYTHONUNBUFFERED=1
BUDGET_S=${GPU_SESSION_BUDGET_S:-480}
DEVICE=${GPU_SESSION_DEVICE:-cuda}  # cpu: a dry run of this script
STEPS=${GPU_SESSION_STEPS:+--steps $GPU_SESSION_STEPS}  # empty: the preset's
START=$SECONDS
log() { echo "== [$((SECONDS - START)) s] $*"; }
left() { echo $((BUDGET_S - (SECONDS - START))); }

{
log "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import os, sys, torch; print('python', sys.version.split()[0], 'torch', torch.__version__,
'cuda', torch.version.cuda, torch.cuda.is_available(), 'cpus', os.cpu_count())"

log "core test suite, device auto (cuda when there is one)"
timeout 240 python3 -m pytest -q -p no:cacheprovider --ignore-glob='tests/test_widget*' -n 8 -rfE \
    --durations=10 2>&1 | tail -80

log "widget workers on cuda (gpu_check.py)"
timeout 120 python3 benchmarks/gpu_check.py --case zebra --device "$DEVICE" > "$WORK/gpu_check.json"
cat "$WORK/gpu_check.json"

for case in zebra tree face building; do
    # Keeps about two minutes for the large images below.
    if [ "$(left)" -lt 200 ]; then log "skipped training $case: time budget"; continue; fi
    log "default-preset training on $DEVICE: $case"
    timeout "$(left)" python3 benchmarks/run_benchmark.py --case "$case" --device "$DEVICE" --skip-quality \
        $STEPS --timing-runs 5 --out "$WORK/$case" 2>&1 | tail -16
    cp "$WORK/$case/model.semia" "$OUT/$case.semia" 2>/dev/null
    if [ "$case" = zebra ] && [ -f "$WORK/zebra/model.semia" ]; then
        log "where a full-resolution synthesis spends its time on $DEVICE (profile_synthesis.py)"
        timeout 90 python3 benchmarks/profile_synthesis.py --case zebra --model "$WORK/zebra/model.semia" \
            --device "$DEVICE" > "$WORK/profile_zebra.txt" 2>&1
        grep -E "^full resolution|kernels:" "$WORK/profile_zebra.txt"
    fi
done

for large in retina synthetic4096; do
    if [ "$(left)" -lt 60 ]; then log "skipped $large: time budget"; continue; fi
    log "full resolution on $DEVICE: $large (quick-preset model trained first)"
    timeout "$(left)" python3 benchmarks/fullres_benchmark.py --large "$large" --train --device "$DEVICE" \
        --out "$WORK/large-$large" 2>&1 | grep -E "trained|median_s|source_side_s|accelerator_peak|peak_rss_mb\"|Error|error" 
    rm -f "$WORK/large-$large/model.semia"
done
if [ "$(left)" -ge 120 ]; then
    log "preset thorough (the one for a GPU) on $DEVICE: zebra, as far as the time budget allows"
    timeout "$(left)" python3 benchmarks/run_benchmark.py --case zebra --preset thorough --device "$DEVICE" \
        --skip-quality $STEPS --timing-runs 3 --out "$WORK/zebra-thorough" 2>&1 | tail -14
fi
log "done"
} 2>&1 | tee "$OUT/log.txt"
rm -f "$WORK"/*/model.semia
tar czf "$OUT/results.tgz" -C "$WORK" .
rm -rf "$WORK"
