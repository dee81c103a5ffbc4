#!/bin/bash
# Install the dependencies, build, and run every test suite (real mounts).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
ctest --test-dir build --output-on-failure -j2
