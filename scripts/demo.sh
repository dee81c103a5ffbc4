#!/bin/bash
# Install the dependencies, build, and run the demo on a real mount.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
exec tools/demo.sh build
