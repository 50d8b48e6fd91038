#!/usr/bin/env bash
# scan-bench's own performance gate: run ci-smoke on the embedded stack and gate it against
# the baseline committed in ci/baseline/. ci-smoke is stretched to 12 minutes of modelled time
# (about 15 s at its time scale of 0.02) so the run has enough requests (~450) for the
# gate's significance test to see a 10 % slowdown.
#
#   ci/gate.sh                          run and gate; exit 99 on a regression
#   ci/gate.sh ci/ci-smoke-slow10.toml  the same with 10 % slower mock latencies: fails
#   ci/gate.sh --record                 record a new baseline after an intended change
#
# The tolerances come from 20 runs on unchanged code (see docs/ci/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

baseline=ci/baseline/ci-smoke.json
tolerances="chain.mean=5%,chain.p50=5%,chain.p95=10%"
min_delta=5ms
duration=12m
out=${SCAN_BENCH_GATE_OUT:-target/ci-gate}

# The debug build that `cargo test` already made; the baseline was recorded with it too.
cargo build --locked --quiet -p loadgen --bin scan-bench
bin=target/debug/scan-bench
rm -rf "$out"

if [[ "${1:-}" == "--record" ]]; then
  "$bin" run ci-smoke --duration "$duration" --quiet --out "$out"
  cp "$out/report.json" "$baseline"
  echo "recorded $baseline"
  exit 0
fi

"$bin" run "${1:-ci-smoke}" --duration "$duration" --quiet --out "$out" \
  --format md --format html --format junit \
  --baseline "$baseline" --tolerance "$tolerances" --min-delta "$min_delta"
