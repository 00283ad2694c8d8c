#!/usr/bin/env bash
# Per-step times of every run a bench kept (WB_BENCH_KEEP=1), from BuildKit's plain progress
# in each run's log: the base image's pull and unpack (FROM), the pip step (the RUN with
# pip's cache mount; on a cache hit: the download of its layer), the image export and
# push, the gha cache export. For
# telling where a slow repetition lost its time (issue 16, deliverable 0).
#
#   bash bench/scenarios/vertices.sh /tmp/wb-scenarios-XXXX
#
# A step that ran twice in one run (the dance's inject/extract builds, warmbuild's helper
# builds) is summed; seconds are BuildKit's own (0.1 s resolution).
set -euo pipefail
dir=${1:?usage: vertices.sh <kept work dir of a bench run>}
printf '%-28s %6s %6s %7s %7s\n' run FROM pip image gha-exp
for log in "$dir"/run-*/log; do
  run=$(basename "$(dirname "$log")")
  awk -v run="$run" '
    # The first line of a vertex names it: "#9 [stage-0 4/5] RUN ..." or "#12 exporting to GitHub Actions Cache".
    /^#[0-9]+ / {
      id = $1
      rest = substr($0, length(id) + 2)
      if (!(id in name) && rest !~ /^DONE / && rest !~ /^[0-9.]+ /) name[id] = rest
    }
    /^#[0-9]+ DONE / {
      id = $1; secs = $3 + 0; n = name[id]
      if (n ~ /\] FROM /) from += secs
      else if (n ~ /RUN .*pip/) pip += secs
      else if (n ~ /^exporting to image/) img += secs
      else if (n ~ /^exporting to GitHub Actions Cache/) gha += secs
      delete name[id]  # a later build in the same log reuses the numbers
    }
    END { printf "%-28s %6.1f %6.1f %7.1f %7.1f\n", run, from, pip, img, gha }
  ' "$log"
done
