#!/bin/bash
# Configure and build into build/ with warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DBFS_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build build -j"$(nproc)"
