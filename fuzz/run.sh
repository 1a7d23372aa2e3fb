#!/usr/bin/env bash
# Build and run every fuzz target, one after the other, for the given time each.
#
#   fuzz/run.sh [seconds-per-target] [target ...]
#
# Defaults: 60 s, all targets. Environment:
#   SANITIZER=address|none   (default address; `none` is ~1.5-2x faster)
#   FUZZ_ARGS="..."          extra libFuzzer flags, e.g. "-only_ascii=1"
# Corpora grow in fuzz/corpus/<target>/ (only seed-* files are committed); crashes land
# in fuzz/artifacts/<target>/; logs in fuzz/logs/<target>.log. Exits non-zero if any
# target found something.
set -uo pipefail
cd "$(dirname "$0")"

secs=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(server_parser client_parser subjects connection config websocket)
fi
sanitizer=${SANITIZER:-address}

# Stable Rust: cargo-fuzz needs nightly-only flags (-Zsanitizer=address); RUSTC_BOOTSTRAP
# lets the stable compiler accept them. (If a build was ever attempted without it, cargo
# may have cached the failed compiler probe: delete fuzz/target/.rustc_info.json.)
export RUSTC_BOOTSTRAP=1

max_len() {
    case $1 in
        server_parser | client_parser) echo 8192 ;;
        connection) echo 8192 ;;
        subjects) echo 2048 ;;
        config) echo 4096 ;;
        websocket) echo 4096 ;;
    esac
}

dict() {
    case $1 in
        config) echo dict/config.dict ;;
        subjects) echo "" ;;
        websocket) echo dict/websocket.dict ;;
        *) echo dict/nats.dict ;;
    esac
}

# Build everything once, then run the binaries directly (so an edit elsewhere in the tree
# halfway through a long run cannot break or change the remaining targets).
cargo fuzz build -s "$sanitizer" || exit 1
bin=target/x86_64-unknown-linux-gnu/release
mkdir -p logs
failed=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    d=$(dict "$t")
    echo "=== $t: ${secs}s, -max_len=$(max_len "$t") ${d:+-dict=$d}"
    # No -jobs: libFuzzer's default is one fuzzing process (-jobs=1 would only move it into
    # a child process logging to fuzz-0.log).
    # shellcheck disable=SC2086
    "$bin/$t" "corpus/$t" \
        -artifact_prefix="artifacts/$t/" \
        -max_total_time="$secs" \
        -max_len="$(max_len "$t")" \
        -timeout=10 \
        -rss_limit_mb=2048 \
        -print_final_stats=1 \
        ${d:+-dict=$d} \
        ${FUZZ_ARGS:-} \
        2>&1 | tee "logs/$t.log" | grep -E "^#[0-9]+.*(INITED|DONE|pulse)|^(==|SUMMARY|stat::)|panicked|Test unit written"
    status=${PIPESTATUS[0]}
    if [ "$status" -ne 0 ]; then
        failed+=("$t")
    fi
done

if [ ${#failed[@]} -ne 0 ]; then
    echo "FAILED: ${failed[*]} (see fuzz/artifacts/ and fuzz/logs/)"
    exit 1
fi
echo "all targets ran ${secs}s without findings"
