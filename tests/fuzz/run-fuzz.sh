#!/bin/bash
# Run a libFuzzer target for a bounded time over the corpus kept in the
# repository; new inputs go to a scratch directory, crashes fail the test.
#   run-fuzz.sh FUZZER CORPUS_DIR SECONDS
set -euo pipefail
fuzzer=$1 corpus=$2 seconds=$3
out=${BFS_TEST_TMP:-/tmp}/fuzz-out
mkdir -p "$out"
cd "$out"
exec "$fuzzer" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 \
	-print_final_stats=1 "$out" "$corpus"
