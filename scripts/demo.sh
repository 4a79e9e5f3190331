#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Quick start, part 1: install the build dependencies (Debian packages, via
# apt-get as root or through sudo), build libviommu in Release (the `release`
# preset, build/release/) and run the demo program from examples/.
# Idempotent: re-running only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/deps.sh
source scripts/deps.sh
viommu_ensure_pkgs "${DEMO_PKGS[@]}"

cmake --preset release >/dev/null
cmake --build --preset release --target viommu-demo
echo "== build/release/examples/viommu-demo"
exec build/release/examples/viommu-demo "$@"
