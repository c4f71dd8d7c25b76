#!/bin/sh
# Regenerates requirements.lock: every Python package the operator image installs, pinned
# with its sha256 hashes, so the Dockerfile can install it with `pip install --require-hashes`.
#
#   deploy/lock-requirements.sh        (from anywhere; needs python3.11 and PyPI)
#
# Input: the [project] dependencies and the [build-system] requires of pyproject.toml (the
# image builds the package with --no-build-isolation, so the build backend must be locked
# too). Versions already in the project's .venv are kept (the tests ran against them); the
# resolver picks only what the .venv lacks. The lock tool (uv) lives in a throwaway venv
# under /tmp, never in the project.
set -eu

cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
work=$(mktemp -d /tmp/modelsync-lock.XXXXXX)
trap 'rm -rf "$work"' EXIT

python3.11 -m venv "$work/tools"
"$work/tools/bin/pip" install --quiet --disable-pip-version-check "uv==$UV_VERSION"
.venv/bin/pip freeze --exclude-editable >"$work/venv-pins.txt"
python3.11 -c '
import sys, tomllib
with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["build-system"]["requires"]))
' >"$work/build-system.in"

"$work/tools/bin/uv" pip compile pyproject.toml "$work/build-system.in" \
    --constraint "$work/venv-pins.txt" \
    --generate-hashes \
    --python-version 3.11 \
    --python-platform x86_64-manylinux_2_28 \
    --no-annotate \
    --custom-compile-command "deploy/lock-requirements.sh" \
    --quiet \
    --output-file "$work/compiled.txt"

{
    echo "# The operator image's Python packages: the runtime closure of pyproject.toml's"
    echo "# [project] dependencies plus its [build-system] requires (the image builds the"
    echo "# package with --no-build-isolation), each with the sha256 of every file PyPI has"
    echo "# for that version. The Dockerfile installs it with"
    echo "#   pip install --no-deps --require-hashes -r requirements.lock"
    echo "# Never edit by hand; after changing dependencies in pyproject.toml (and installing"
    echo "# them into .venv, whose versions are kept), regenerate with:"
    echo "#   deploy/lock-requirements.sh"
    echo "# which runs (uv $UV_VERSION, in a throwaway venv under /tmp):"
    echo "#   .venv/bin/pip freeze --exclude-editable > venv-pins.txt"
    echo "#   uv pip compile pyproject.toml build-system.in --constraint venv-pins.txt \\"
    echo "#     --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \\"
    echo "#     --no-annotate"
    echo "# (build-system.in: the [build-system] requires, one a line)."
    cat "$work/compiled.txt"
} >requirements.lock
echo "wrote requirements.lock"
