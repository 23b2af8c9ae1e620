#!/usr/bin/env bash
# The test command: installs what is missing, builds everything (tests included), runs every suite, then Mesa's
# published Python SDK against a real `mesa serve` (scripts/python-sdk-tests.sh) and (as root) scripts/sandbox-e2e.sh.
# A run that hangs is stopped: a FUSE request never replied to would otherwise hang the test process.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scripts/bootstrap.sh
swift build --build-tests
timeout --kill-after=30s "${MESA_TEST_TIMEOUT:-40m}" swift test --skip-build "$@"
# Mesa's Python SDK against `mesa serve`: only for a run of every suite; MESA_PYTHON_SDK=0 skips it.
if [[ $# -eq 0 && ${MESA_PYTHON_SDK:-1} != 0 ]]; then
    MESA_BINARY=$PWD/.build/debug/mesa scripts/python-sdk-tests.sh
fi
# The sandbox flow end to end (a release build, a fresh Debian root, namespaces): root only, and only for a run of
# every suite; MESA_SANDBOX_E2E=0 skips it.
if [[ $# -eq 0 && $(id -u) -eq 0 && ${MESA_SANDBOX_E2E:-1} != 0 ]]; then
    timeout --kill-after=30s "${MESA_SANDBOX_TIMEOUT:-40m}" scripts/sandbox-e2e.sh
fi
