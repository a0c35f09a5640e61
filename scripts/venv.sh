#!/usr/bin/env bash
# Create or refresh the project's virtual environment from requirements.lock.
#
# `make` runs this through its .venv/.stamp rule whenever .venv is missing or broken, or
# pyproject.toml / requirements.lock / this script is newer than the stamp. It is safe to run by
# hand: `bash scripts/venv.sh`. `bash scripts/venv.sh --find-python` only prints the Python 3.11
# interpreter it would use.
#
# Steps: (1) find Python 3.11 ($BOOTSTRAP_PYTHON, then python3.11, then python3 if it is 3.11);
# (2) (re)create .venv if it is missing or its python is not a working 3.11; (3) install exactly
# the pinned versions in requirements.lock (skipped when scripts/lockdiff.py finds nothing to
# install), then evalkit itself editable without dependencies, so notebooks and tests see the
# source; (4) uninstall anything the lock does not name, so the venv matches the lock after a
# downgrade or a removed package; (5) `pip check`; (6) touch the stamp.
set -euo pipefail

VENV=${VENV:-.venv}
LOCK=${LOCK:-requirements.lock}
STAMP="$VENV/.stamp"
PIP_FLAGS=(--disable-pip-version-check --no-input)
[ "${VERBOSE:-0}" = 1 ] || PIP_FLAGS+=(--quiet)
INSTALL_FLAGS=("${PIP_FLAGS[@]}" --progress-bar off)

# This machine's pip configuration may list local file:// indexes that lack most packages; pip
# then warns once per package ("Location ... is ignored"). Only that exact warning is dropped.
quiet_pip() {
    "$@" 2> >(sed -u '/is ignored: it is neither a file nor a directory/d' >&2)
}

say() { printf 'venv: %s\n' "$*" >&2; }
die() { printf 'venv: ERROR: %s\n' "$*" >&2; exit 1; }

is_py311() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1; }

find_python() {
    local cand
    for cand in "${BOOTSTRAP_PYTHON:-}" python3.11 python3; do
        [ -n "$cand" ] || continue
        if command -v "$cand" >/dev/null 2>&1 && is_py311 "$cand"; then
            command -v "$cand"
            return 0
        fi
    done
    return 1
}

no_python_message() {
    cat >&2 <<'MSG'
venv: ERROR: evalkit needs Python 3.11, and none was found
      (tried $BOOTSTRAP_PYTHON, python3.11, python3).
      Install it, e.g. on Debian 12: sudo apt-get install python3 python3-venv
      (Debian 12's python3 is 3.11), or with pyenv: pyenv install 3.11,
      then run the make target again (or point BOOTSTRAP_PYTHON=/path/to/python3.11 at it).
MSG
}

if [ "${1:-}" = "--find-python" ]; then
    find_python || { no_python_message; exit 1; }
    exit 0
fi

[ -f "$LOCK" ] || die "$LOCK not found (run make from the repository root)"
[ -f pyproject.toml ] || die "pyproject.toml not found (run make from the repository root)"

start=$SECONDS
rm -f "$STAMP"   # an interrupted install must never leave a fresh-looking stamp behind

if [ -e "$VENV" ] && ! { [ -x "$VENV/bin/python" ] && is_py311 "$VENV/bin/python" \
        && "$VENV/bin/python" -m pip --version >/dev/null 2>&1; }; then
    # Refuse to delete something that is not a virtual environment (VENV=/ or a typo).
    [ -f "$VENV/pyvenv.cfg" ] || [ -z "$(ls -A "$VENV" 2>/dev/null)" ] \
        || die "$VENV exists but is not a virtual environment; move it away and retry"
    say "$VENV is broken or not Python 3.11: rebuilding it"
    rm -rf "$VENV"
fi

if [ ! -e "$VENV" ]; then
    py=$(find_python) || { no_python_message; exit 1; }
    say "creating $VENV with $py ($("$py" --version 2>&1))"
    "$py" -m venv "$VENV" || die "'$py -m venv' failed; on Debian/Ubuntu install python3-venv \
(or python3.11-venv) and retry"
fi

# Install the lock only when the venv differs from it (a quick metadata check, no pip).
diff=$("$VENV/bin/python" scripts/lockdiff.py "$LOCK")
if grep -q '^stale ' <<<"$diff"; then
    say "installing the pinned packages from $LOCK ($(grep -c '^stale ' <<<"$diff") to install)"
    quiet_pip "$VENV/bin/python" -m pip install "${INSTALL_FLAGS[@]}" -r "$LOCK"
else
    say "every package in $LOCK is installed at its pinned version"
fi
say "installing evalkit (editable)"
quiet_pip "$VENV/bin/python" -m pip install "${INSTALL_FLAGS[@]}" --no-deps -e .

# Remove what the lock does not name (left over from an earlier lock), keeping the installers.
extras=$("$VENV/bin/python" scripts/lockdiff.py "$LOCK" | sed -n 's/^extra //p')
if [ -n "$extras" ]; then
    say "removing packages not in $LOCK: $(echo $extras)"
    # shellcheck disable=SC2086
    "$VENV/bin/python" -m pip uninstall "${PIP_FLAGS[@]}" -y $extras
fi
stale=$("$VENV/bin/python" scripts/lockdiff.py "$LOCK" | sed -n 's/^stale //p')
[ -z "$stale" ] || die "after installing, these still differ from $LOCK: $(echo $stale)"

if ! "$VENV/bin/python" -m pip check >&2; then
    die "the installed packages are inconsistent. If you changed the dependencies in
      pyproject.toml, regenerate the lock with 'make lock' and retry."
fi

touch "$STAMP"
say "ready: $("$VENV/bin/python" --version 2>&1), evalkit editable, $(( SECONDS - start )) s"
