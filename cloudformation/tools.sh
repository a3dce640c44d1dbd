# shellcheck shell=bash
# The command-line tools the deploy scripts use, each a pinned version from PyPI installed once into
# its own virtual environment under the user's cache directory, the way the local AWS (moto) is
# installed (`handler/src/local/emulator.rs`). Sourced by `package.sh` and `lint.sh`; not run alone.
#
# `WARDEN_TOOLS_DIR` moves the environments (default `${XDG_CACHE_HOME:-$HOME/.cache}/warden`);
# `PYTHON` names the Python that makes them (default `python3`, which needs its `venv` module).

# The pinned versions. Raise one here and the next run installs it beside the old one.
# shellcheck disable=SC2034 # used by the scripts that source this file
CARGO_LAMBDA_VERSION=1.9.2 # ships its own binary; builds through zig (cargo-zigbuild inside)
ZIGLANG_VERSION=0.15.2     # the zig toolchain cargo-lambda links with, from the `ziglang` wheel
AWSCLI_VERSION=1.46.2      # only when no `aws` is on PATH
CFN_LINT_VERSION=1.58.0
CHECKOV_VERSION=3.3.30

warden_tools_dir() {
    if [[ -n "${WARDEN_TOOLS_DIR:-}" ]]; then
        printf '%s\n' "$WARDEN_TOOLS_DIR"
    else
        printf '%s\n' "${XDG_CACHE_HOME:-${HOME:?}/.cache}/warden"
    fi
}

# ensure_venv NAME WHAT SECONDS REQUIREMENT...: prints the environment's directory, installing the
# requirements into it first when it is missing. The environment counts as installed once its
# `.installed` mark is written, after pip finished; an interrupted install is redone from scratch,
# and concurrent first runs wait for each other (`flock`).
ensure_venv() {
    local name=$1 what=$2 seconds=$3
    shift 3
    local dir
    dir="$(warden_tools_dir)/$name"
    if [[ -f "$dir/.installed" ]]; then
        printf '%s\n' "$dir"
        return
    fi
    mkdir -p "$(dirname "$dir")"
    local lock
    exec {lock}>"$dir.lock"
    flock "$lock"
    if [[ ! -f "$dir/.installed" ]]; then
        echo "installing $what into $dir (once; about $seconds s)" >&2
        rm -rf "$dir"
        local log="$dir.install.log"
        if ! "${PYTHON:-python3}" -m venv "$dir" >"$log" 2>&1 ||
            ! "$dir/bin/pip" install --quiet --disable-pip-version-check "$@" >>"$log" 2>&1; then
            echo "error: installing $what into \`$dir\` failed (it needs python3 with its venv" \
                "module, and the network to PyPI):" >&2
            tail -n 20 "$log" >&2
            rm -rf "$dir"
            exec {lock}>&-
            return 1
        fi
        rm -f "$log"
        touch "$dir/.installed"
    fi
    exec {lock}>&-
    printf '%s\n' "$dir"
}
