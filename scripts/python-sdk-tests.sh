#!/usr/bin/env bash
# Mesa's published Python SDK (mesa-sdk 0.44.1 with mesa-rest 0.44.1, from PyPI) driven against a real `mesa serve`:
# the suite in Tests/PythonSDK starts the debug binary on 127.0.0.1 with a free port and a temporary data directory
# and calls every SDK method the server implements. The SDK and pytest go into a virtualenv under .build/ (made
# again when Tests/PythonSDK/requirements.txt changes). Arguments go to pytest (e.g. `-k merges -x`).
#
#   scripts/python-sdk-tests.sh            builds `mesa` (debug) unless MESA_BINARY names a binary to test
#
# MESA_PYTHON picks the interpreter (python3); MESA_PYTHON_SDK_TIMEOUT bounds the pytest run (5m).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

python=${MESA_PYTHON:-python3}
venv=.build/python-sdk-venv
requirements=Tests/PythonSDK/requirements.txt
stamp="$venv/.requirements.sha256"
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)

if [[ ! -x $venv/bin/python || $(cat "$stamp" 2>/dev/null) != "$wanted" ]]; then
    rm -rf "$venv"
    mkdir -p .build
    # Debian's python3 makes no virtualenv without python3-venv (ensurepip); install it when it is missing.
    if ! "$python" -m venv "$venv" >/dev/null 2>&1; then
        rm -rf "$venv"
        sudo=""
        [[ $(id -u) -eq 0 ]] || sudo="sudo"
        echo "python-sdk-tests: installing python3-venv"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
        "$python" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$requirements"
    echo "$wanted" >"$stamp"
fi

if [[ -z ${MESA_BINARY:-} ]]; then
    swift build --product mesa
    export MESA_BINARY=$PWD/.build/debug/mesa
fi
cd Tests/PythonSDK
export PYTHONDONTWRITEBYTECODE=1
exec timeout --kill-after=10s "${MESA_PYTHON_SDK_TIMEOUT:-5m}" "../../$venv/bin/python" -m pytest -q -rs -p no:cacheprovider "$@"
