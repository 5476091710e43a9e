#!/usr/bin/env bash
# End-to-end speed of vmlab, in references per second: whole `vmlab`
# commands timed from outside (process start, generation, simulation and
# output included), the median of BENCH_RUNS runs each.
#
# Inputs are vmlab's seeded generators, written once to vmlab-bin trace
# files by `vmlab generate` (untimed; kept in BENCH_DIR and reused while the
# spec is the same), so every run replays the same stream and the figures
# time the simulation, not the generator:
# - TLB-hit-dominated stream: `seq` over 4 pages with 8-byte accesses, so
#   511 of every 512 references hit the L1 TLB (there is no dedicated
#   TLB-hit generator; this is the closest existing stream), on one core
#   (taskset: the target's terms);
# - Zipf(1.0) over BENCH_PAGES pages (1 M) at 10% memory, through
#   `vmlab run --model full` (on its lean engine: a generated trace is
#   vmlab-bin version 1, which carries no system calls) and `--model
#   replacement` for LRU, FIFO, Clock, ARC, SIEVE and S3-FIFO, on one
#   core;
# - the exact one-pass LRU miss-ratio curve: `vmlab sweep --mrc exact`;
# - a real program's lackey text trace (`sort -n` under Valgrind lackey,
#   recorded once), read and simulated in both models, in lines/s, as
#   `vmlab run` does it (parsing on a second core) and on one core;
# - a sweep's speed-up on all cores over one (RAYON_NUM_THREADS=1): the
#   six policies at four memory sizes, replacement model, BENCH_REFS / 10
#   references each;
# - peak memory (resident set) of LRU in both models on Zipf at
#   BENCH_REFS / 10 and BENCH_REFS references: flat as the trace grows.
# Reading the trace (about 100+ M records/s) is part of every figure.
#
# Environment: BENCH_REFS (default 50000000), BENCH_PAGES (1000000),
# BENCH_RUNS (3), BENCH_DIR (${TMPDIR:-/tmp}/vmlab-bench; 16 bytes a
# reference per trace), CARGO_TARGET_DIR (target), BENCH_BASELINE (the
# path of another vmlab binary: each command measure then runs it too, in
# turn with this build, and its line adds the baseline's figure and the
# ratio of times; on a shared, noisy machine that ratio is what holds
# from one hour to the next, where a single figure may not; the sweep's
# speed-up, a ratio already, is this build's alone). Quick smoke run:
#   BENCH_REFS=1000000 BENCH_RUNS=1 scripts/bench.sh
set -euo pipefail

refs=${BENCH_REFS:-50000000}
pages=${BENCH_PAGES:-1000000}
runs=${BENCH_RUNS:-3}
frames=$((pages / 10))
policies="lru fifo clock arc sieve s3-fifo"

cd "$(dirname "$0")/.."
cargo build --release --locked -p vmlab-cli
vmlab="${CARGO_TARGET_DIR:-target}/release/vmlab"
dir=${BENCH_DIR:-${TMPDIR:-/tmp}/vmlab-bench}
mkdir -p "$dir"

# The trace file of a generator spec, generated on first use (and again
# if an older vmlab wrote it as version 2, which may carry system calls:
# the full model then could not take its lean engine), and read once
# untimed: after a large build the page cache may have dropped it, and the
# first timed run would then time the disk.
trace_of() {
    local file="$dir/$(echo "$1" | tr ':,=' '_.-').vmt"
    local version
    version=$(od -An -tu1 -j8 -N1 "$file" 2>/dev/null | tr -d ' ')
    [ -s "$file" ] && [ "$version" = 1 ] || "$vmlab" generate "$1" -o "$file" >&2
    cat "$file" >/dev/null
    echo "$file"
}

# The wall-clock seconds of one run of a command.
seconds() {
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s%N)
    awk -v ns=$((end - start)) 'BEGIN { printf "%.3f\n", ns / 1e9 }'
}

# The median of the numbers on standard input, one a line.
median() {
    sort -n | awk '{ t[NR] = $1 } END { printf "%.3f", t[int((NR + 1) / 2)] }'
}

# The median wall-clock seconds of `runs` runs of a command.
median_seconds() {
    for _ in $(seq "$runs"); do
        seconds "$@"
    done | median
}

# One line of the report: what, how many (references, or the UNIT given
# fourth), seconds, and how many per second.
report() {
    awk -v what="$1" -v refs="$2" -v secs="$3" -v unit="${4:-refs}" 'BEGIN {
        printf "%-44s %11d %-5s %8.3f s %9.2f M %s/s\n", what, refs, unit, secs, refs / secs / 1e6, unit }'
}

baseline=${BENCH_BASELINE:-}
if [ -n "$baseline" ] && [ ! -x "$baseline" ]; then
    echo "BENCH_BASELINE: $baseline is not an executable vmlab binary" >&2
    exit 2
fi

# Times a vmlab command and reports it: WHAT, COUNT and UNIT as for
# `report`, then the command, with VMLAB where the binary goes. With a
# baseline, the two binaries run in turn (so both see the same load) and
# the line adds the baseline's rate and this build's time over its time.
measure() {
    local what=$1 count=$2 unit=$3
    shift 3
    local cmd=("${@/#VMLAB/$vmlab}")
    if [ -z "$baseline" ]; then
        report "$what" "$count" "$(median_seconds "${cmd[@]}")" "$unit"
        return
    fi
    local base=("${@/#VMLAB/$baseline}") ours=() theirs=()
    for _ in $(seq "$runs"); do
        ours+=("$(seconds "${cmd[@]}")")
        theirs+=("$(seconds "${base[@]}")")
    done
    local secs base_secs
    secs=$(printf '%s\n' "${ours[@]}" | median)
    base_secs=$(printf '%s\n' "${theirs[@]}" | median)
    awk -v line="$(report "$what" "$count" "$secs" "$unit")" -v count="$count" \
        -v secs="$secs" -v base="$base_secs" -v unit="$unit" 'BEGIN {
        printf "%s   baseline %8.2f M %s/s, ratio %.2f\n", line, count / base / 1e6, unit, secs / base }'
}

echo "vmlab end-to-end benchmark: $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%FT%TZ)"
echo "cores: $(nproc); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "references per measure: $refs; Zipf pages: $pages; frames: $frames; median of $runs run(s)"
[ -z "$baseline" ] || echo "baseline: $baseline, run in turn with this build"
echo

# `vmlab run` reads a text or compressed trace on a second core when it
# may use one (an uncompressed vmlab-bin file is decoded in line); the
# targets of the TLB-hit stream and of Zipf are on one core, so those runs
# are pinned to one CPU (taskset), which keeps vmlab to a single thread.
one_core="taskset -c 0"

tlb_stream=$(trace_of "seq:pages=4,n=$refs,seed=1")
measure "TLB-hit stream, full model, one core" "$refs" refs \
    $one_core VMLAB run --trace "$tlb_stream" --frames 1024 --model full

zipf=$(trace_of "zipf:pages=$pages,alpha=1.0,n=$refs,seed=1")
for model in full replacement; do
    for policy in $policies; do
        measure "Zipf(1.0) $policy, $model model, one core" "$refs" refs \
            $one_core VMLAB run --trace "$zipf" --frames "$frames" --policy "$policy" --model "$model"
    done
done

# A real program's Valgrind lackey trace (`sort -n` of 6000 numbers,
# recorded once, untimed), read and simulated at page granularity in both
# models (the full one on its lean engine: the file has no system-call
# line): lines of text per second, as `vmlab run` reads it (parsing on a
# second core) and on one core, where it parses and simulates in turn.
# Valgrind is installed with apt-get if missing (as root); without it the
# line is skipped.
lackey="$dir/sort-n-6000.lackey"
if [ ! -s "$lackey" ]; then
    if ! command -v valgrind >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get install -y -qq valgrind >&2
    fi
    if command -v valgrind >/dev/null; then
        seq 6000 -1 1 >"$dir/numbers.txt"
        valgrind --tool=lackey --trace-mem=yes --log-file="$lackey.part" \
            sort -n "$dir/numbers.txt" >/dev/null
        mv "$lackey.part" "$lackey"
    fi
fi
if [ -s "$lackey" ]; then
    lines=$(wc -l <"$lackey")
    for model in full replacement; do
        measure "lackey trace of sort -n, $model model" "$lines" lines \
            VMLAB run --trace "$lackey" --model "$model"
        measure "lackey trace of sort -n, $model, one core" "$lines" lines \
            $one_core VMLAB run --trace "$lackey" --model "$model"
    done
else
    echo "lackey trace of sort -n: skipped (no valgrind)"
fi

measure "Zipf(1.0) exact one-pass LRU MRC" "$refs" refs \
    VMLAB sweep --trace "$zipf" --frames "$frames" --mrc exact

sweep_refs=$((refs / 10))
sweep_zipf=$(trace_of "zipf:pages=$pages,alpha=1.0,n=$sweep_refs,seed=1")
sweep_sizes="$((frames / 4)),$((frames / 2)),$frames,$((frames * 2))"
sweep_total=$((sweep_refs * 6 * 4))
sweep() {
    "$vmlab" sweep --trace "$sweep_zipf" --frames "$sweep_sizes" \
        --policies "${policies// /,}" --model replacement
}
one=$(RAYON_NUM_THREADS=1 median_seconds sweep)
all=$(median_seconds sweep)
report "sweep of 24 configurations, 1 thread" "$sweep_total" "$one"
report "sweep of 24 configurations, $(nproc) threads" "$sweep_total" "$all"
awk -v one="$one" -v all="$all" -v cores="$(nproc)" 'BEGIN {
    printf "sweep speed-up on %d cores: %.2f x (%.2f x cores)\n", cores, one / all, one / all / cores }'
# Peak memory as the trace grows: the Zipf stream of the sweep (a tenth
# of the references) and the whole one, LRU in both models, as the peak
# resident set size GNU time reports. A run holds its machine and a
# bounded window of the trace, never the trace, so the two should match.
# GNU time is installed with apt-get if missing (as root); without it the
# lines are skipped.
if [ ! -x /usr/bin/time ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq time >&2
fi
peak_mib() {
    /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n 1 | awk '{ printf "%.1f", $1 / 1024 }'
}
if [ -x /usr/bin/time ]; then
    for model in full replacement; do
        small=$(peak_mib "$vmlab" run --trace "$sweep_zipf" --frames "$frames" --policy lru --model "$model")
        large=$(peak_mib "$vmlab" run --trace "$zipf" --frames "$frames" --policy lru --model "$model")
        awk -v model="$model" -v n1="$sweep_refs" -v n2="$refs" -v m1="$small" -v m2="$large" 'BEGIN {
            printf "peak memory, Zipf(1.0) lru, %s model: %d refs %.1f MiB, %d refs %.1f MiB (%.2f x)\n",
                model, n1, m1, n2, m2, m2 / m1 }'
    done
else
    echo "peak memory: skipped (no GNU time)"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
