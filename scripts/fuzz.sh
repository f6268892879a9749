#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ and runs each for a while.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 30 s each, every target
#   scripts/fuzz.sh 3600 FuzzControl                      one target for an hour
#
# Targets: FuzzProbePacket FuzzControl FuzzInventory FuzzProfile FuzzDissector.
# Each run starts from the committed seed corpus (Fuzz/Corpus/<target>) and the regression inputs
# (Tests/*/Fixtures/fuzz-regressions/<target>), read only; what the fuzzer adds goes to a temporary
# directory, removed afterwards (FUZZ_KEEP_CORPUS=DIR keeps it under DIR/<target> instead, to resume
# a long run). A crash, a failed check, a timeout (10 s per input) or running out of memory leaves
# its input in fuzz-out/<target>/ and the log beside it; the script exits 1 if any target failed.
#
# Environment: FUZZ_CONFIG=debug|release (default debug: Swift's debug-only checks stay on),
# FUZZ_SCRATCH (default .build-fuzz), FUZZ_JOBS=N runs N targets at once (default 1),
# FUZZ_ARGS extra libFuzzer flags (e.g. "-only_ascii=1").
# Reproduce a crash:  .build-fuzz/debug/FuzzControl fuzz-out/FuzzControl/crash-...
# Minimise it:        .build-fuzz/debug/FuzzControl -minimize_crash=1 -runs=100000 fuzz-out/FuzzControl/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/swift-env.sh
root=$PWD

all=(FuzzProbePacket FuzzControl FuzzInventory FuzzProfile FuzzDissector)
seconds=${1:-30}
[[ $seconds =~ ^[0-9]+$ && $seconds -ge 1 ]] || { echo "fuzz.sh: SECONDS_PER_TARGET must be a whole number >= 1, got \"$seconds\"" >&2; exit 2; }
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
for t in "${targets[@]}"; do
    [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target \"$t\" (expected one of: ${all[*]})" >&2; exit 2; }
done

config=${FUZZ_CONFIG:-debug}
scratch=${FUZZ_SCRATCH:-$root/.build-fuzz}
jobs=${FUZZ_JOBS:-1}
# `--sanitize=fuzzer --sanitize=address` reaches swiftc as two -sanitize= flags, of which the driver (6.3)
# keeps only the last: Swift code would get AddressSanitizer but no coverage, and the fuzzer would be blind.
# The -Xswiftc flag comes after SwiftPM's own, so it wins; C targets and the link get SwiftPM's.
build=(swift build --package-path Fuzz --scratch-path "$scratch" -c "$config" --sanitize=fuzzer --sanitize=address
       -Xswiftc -sanitize=fuzzer,address)

mkdir -p fuzz-out
echo "fuzz.sh: building Fuzz/ ($config, fuzzer+address sanitizers) ..."
start=$(date +%s)
if ! "${build[@]}" > fuzz-out/build.log 2>&1; then
    # ld.gold warns about every ASan register helper; leave those out of what is shown.
    grep -v "Cannot export local symbol" fuzz-out/build.log | tail -40 >&2
    echo "fuzz.sh: build failed (full log: fuzz-out/build.log)" >&2
    exit 1
fi
bin=$("${build[@]}" --show-bin-path)
echo "fuzz.sh: built in $(( $(date +%s) - start )) s"

regressions() {  # the regression-input folder of a target, if any
    local d
    for d in Tests/SwarmProbeCoreTests/Fixtures/fuzz-regressions/$1 Tests/SwarmProbeCaptureTests/Fixtures/fuzz-regressions/$1; do
        [ -d "$d" ] && echo "$d"
    done
    return 0
}

max_len() {
    case $1 in
        FuzzProbePacket) echo 9000 ;;  # ProbePacket.maximumSize is 8918
        FuzzControl) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

work=$(mktemp -d "${TMPDIR:-/tmp}/swarmprobe-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

run_one() {  # target -> fuzz-out/<target>/{fuzz.log,result}
    local t=$1 out=fuzz-out/$1 corpus rc began
    rm -rf "$out" && mkdir -p "$out"
    if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then corpus=$FUZZ_KEEP_CORPUS/$t; else corpus=$work/$t; fi
    mkdir -p "$corpus"
    began=$(date +%s)
    set +e
    # Leaks: the Swift runtime keeps metadata and caches for the process' life; LeakSanitizer calls them leaks.
    # libFuzzer reports crashes itself; Swift's backtracer would only add a minute (or hang) per crash.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1} SWIFT_BACKTRACE=enable=no \
    "$bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
        -dict="Fuzz/Dicts/$t.dict" -use_value_profile=1 -print_final_stats=1 -artifact_prefix="$out/" \
        ${FUZZ_ARGS:-} "$corpus" "Fuzz/Corpus/$t" $(regressions "$t") > "$out/fuzz.log" 2>&1
    rc=$?
    set -e
    local runs rate
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz.log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/fuzz.log" | tail -1)
    if [ "$rc" -eq 0 ]; then
        printf '%-16s CLEAN  runs=%s seconds=%s exec/s=%s corpus=%s\n' "$t" "${runs:-?}" "$(( $(date +%s) - began ))" \
            "${rate:-?}" "$(find "$corpus" -type f | wc -l)" > "$out/result"
    else
        printf '%-16s CRASH  exit=%s runs=%s seconds=%s: %s (log: %s)\n' "$t" "$rc" "${runs:-?}" "$(( $(date +%s) - began ))" \
            "$(ls "$out" | grep -E '^(crash|timeout|oom|leak|slow-unit)-' | sed "s|^|$out/|" | tr '\n' ' ')" "$out/fuzz.log" \
            > "$out/result"
        grep -m1 -E 'Fatal error|ERROR: (libFuzzer|AddressSanitizer)|SUMMARY' "$out/fuzz.log" >> "$out/result" || true
    fi
    cat "$out/result"
}

echo "fuzz.sh: ${#targets[@]} target(s), ${seconds} s each"
if [ "$jobs" -le 1 ]; then
    for t in "${targets[@]}"; do run_one "$t"; done
else
    for t in "${targets[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
        run_one "$t" > /dev/null &
    done
    wait || true
    for t in "${targets[@]}"; do cat "fuzz-out/$t/result"; done
fi

failed=0
for t in "${targets[@]}"; do grep -q ' CLEAN ' "fuzz-out/$t/result" || failed=1; done
if [ "$failed" -ne 0 ]; then
    echo "fuzz.sh: FAILED: keep each input as a regression test (Tests/*/FuzzRegressionTests.swift)" >&2
    exit 1
fi
echo "fuzz.sh: every target ran clean"
