#!/usr/bin/env bash
# Time the full-resolution stage of two checkouts side by side, alternating fresh
# worker processes (timings on a shared 2-core machine drift by up to 1.7x
# between runs, so only interleaved runs compare).
#
#   bash benchmarks/ab_refined_timing.sh OLD_CHECKOUT NEW_CHECKOUT MODEL [LARGE] [ROUNDS]
#
# e.g. git worktree add /tmp/old <commit>; bash benchmarks/ab_refined_timing.sh /tmp/old . \
#          benchmarks/results/synthetic4096-quick/model.semia synthetic4096 2
set -euo pipefail
old=$1 new=$2 model=$3 large=${4:-synthetic4096} rounds=${5:-2}
for round in $(seq "$rounds"); do
  for checkout in "$old" "$new"; do
    PYTHONPATH="$checkout/src" python "$checkout/benchmarks/fullres_benchmark.py" --worker --large "$large" \
        --model "$model" --method refined --timing-runs 3 2>/dev/null | grep '^RESULT ' | python -c "
import json, sys
r = json.loads(sys.stdin.read()[len('RESULT '):])
print('round $round', '$checkout', 'median %.2f s' % r['median_s'], [round(x, 2) for x in r['seconds']],
      'peak %.0f MB' % r['peak_rss_mb'], 'source side %.2f s' % r['source_side_s'])"
  done
done
