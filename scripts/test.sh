#!/usr/bin/env bash
# The test command: installs what is missing, builds everything (tests included) and runs every suite.
# A run that hangs is stopped: a FUSE request never replied to would otherwise hang the test process.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scripts/bootstrap.sh
swift build --build-tests
timeout --kill-after=30s "${MESA_TEST_TIMEOUT:-40m}" swift test --skip-build "$@"
