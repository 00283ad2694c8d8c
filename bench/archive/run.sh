#!/usr/bin/env bash
# Compare pkg/archive with the `tar | zstd -T0` command-line floor on the same tree.
#
#   bench/archive/run.sh [TREE] [WORKDIR] [ROUNDS]
#
# TREE defaults to a generated ~200 MB pip-like cache (the one BenchmarkWrite uses),
# kept in WORKDIR/pip. WORKDIR (default /dev/shm/warmbuild-archive-bench) holds the
# archives and extraction targets: tmpfs measures CPU cost, a disk path adds the
# filesystem. Each number is the best and the median wall time of ROUNDS runs
# (default 5), with a sync before each run so earlier writeback does not land on it.
set -euo pipefail
cd "$(dirname "$0")/../.."

work=${2:-/dev/shm/warmbuild-archive-bench}
rounds=${3:-5}
mkdir -p "$work"
tree=${1:-$work/pip}
if [ -z "${1:-}" ] && [ ! -e "$tree/.complete" ]; then
	WARMBUILD_BENCH_TREE=$tree go test ./pkg/archive -run '^$' -bench 'BenchmarkWrite/fastest$' -benchtime 1x >/dev/null
fi
go build -o "$work/archivebench" ./bench/archive/archivebench
mb=$(du -sm --apparent-size "$tree" | cut -f1)
files=$(find "$tree" -type f | wc -l)

# measure NAME CMD...: run CMD ROUNDS times (after cleaning extraction targets), print
# best and median seconds.
measure() {
	local name=$1
	shift
	local times=()
	for _ in $(seq "$rounds"); do
		rm -rf "$work/x"
		mkdir -p "$work/x"
		sync
		local start end
		start=$(date +%s.%N)
		"$@" >/dev/null
		end=$(date +%s.%N)
		times+=("$(echo "$end - $start" | bc)")
	done
	printf '%s\n' "${times[@]}" | sort -n | awk -v name="$name" -v mb="$mb" '
		{ t[NR] = $1 }
		END {
			med = t[int((NR + 1) / 2)]
			printf "| %-50s | %6.2f s | %6.2f s | %5.0f MB/s |\n", name, t[1], med, mb / t[1]
		}'
}

echo "tree: $tree ($mb MB, $files files), work dir: $work, $(nproc) CPUs, best/median of $rounds"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| operation                                          | best     | median   | best rate  |"
echo "|----------------------------------------------------|----------|----------|------------|"
measure "archive.Write SpeedFastest (default)" "$work/archivebench" write -dir "$tree" -out "$work/ours.zst"
measure "archive.Write SpeedFastest, GOMAXPROCS goroutines" "$work/archivebench" write -dir "$tree" -out "$work/oursN.zst" -j "$(nproc)"
measure "archive.Write SpeedFastest, 1 goroutine" "$work/archivebench" write -dir "$tree" -out "$work/ours1.zst" -j 1
measure "archive.Write SpeedDefault" "$work/archivebench" write -dir "$tree" -out "$work/ours-default.zst" -level default
measure "tar -cf - . \| zstd -T0 -1" sh -c "tar -C '$tree' -cf - . | zstd -T0 -1 -q -c > '$work/cli.zst'"
measure "tar -cf - . \| zstd -T0 -3 (zstd default)" sh -c "tar -C '$tree' -cf - . | zstd -T0 -3 -q -c > '$work/cli3.zst'"
measure "archive.Extract" "$work/archivebench" extract -in "$work/ours.zst" -dir "$work/x"
measure "zstd -d \| tar -xf -" sh -c "zstd -d -q -c '$work/cli.zst' | tar -xf - -C '$work/x'"
echo
ls -l "$work"/*.zst | awk '{printf "%-50s %6.1f MB\n", $NF, $5 / 1e6}'
rm -rf "$work/x"
