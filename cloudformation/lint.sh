#!/usr/bin/env bash
# Lints the CloudFormation templates with cfn-lint and checkov (pinned, installed on first use).
# Run `lint.sh --help`.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: cloudformation/lint.sh [TEMPLATE...]

Lints the templates (default: cloudformation/*.yaml) and fails unless all are clean:
  - cfn-lint: no error and no warning (informational findings are printed, not failed);
  - every checkov skip is a resource's `Metadata: checkov: skip:` entry with an `id` and a
    non-empty `comment` saying why;
  - checkov (--framework cloudformation): no failed check. Skips come only from the templates'
    metadata: no skip flags, and no .checkov.yaml (one in the repository is an error).
cfn-lint and checkov are installed on first use, pinned, from PyPI, into ~/.cache/warden/
(WARDEN_TOOLS_DIR to move them).

Exit codes: 0 clean; 1 a finding, or a tool could not be installed; 2 usage error (no template).
EOF
}

templates=()
for a in "$@"; do
    case "$a" in
    -h | --help)
        usage
        exit 0
        ;;
    -*)
        echo "error: unexpected option \`$a\` (see --help)" >&2
        exit 2
        ;;
    *) templates+=("$(realpath -- "$a")") ;;
    esac
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=cloudformation/tools.sh
source cloudformation/tools.sh

if [[ ${#templates[@]} -eq 0 ]]; then
    shopt -s nullglob
    for t in cloudformation/*.yaml; do templates+=("$root/$t"); done
    shopt -u nullglob
fi
if [[ ${#templates[@]} -eq 0 ]]; then
    echo "error: no template to lint (cloudformation/*.yaml is empty)" >&2
    exit 2
fi
for t in "${templates[@]}"; do
    [[ -f "$t" ]] || {
        echo "error: \`$t\` is not a file" >&2
        exit 2
    }
done

cfn_lint="$(ensure_venv "cfn-lint-$CFN_LINT_VERSION" "cfn-lint $CFN_LINT_VERSION" 30 \
    "cfn-lint==$CFN_LINT_VERSION")"
checkov="$(ensure_venv "checkov-$CHECKOV_VERSION" "checkov $CHECKOV_VERSION" 60 \
    "checkov==$CHECKOV_VERSION")"

status=0

echo "cfn-lint $CFN_LINT_VERSION: ${templates[*]#"$root/"}" >&2
"$cfn_lint/bin/cfn-lint" --non-zero-exit-code warning -- "${templates[@]}" || status=1

echo "checkov skips: each with its reason" >&2
# cfn-lint's own decoder reads the templates (YAML with CloudFormation's short tags, or JSON).
"$cfn_lint/bin/python" - "${templates[@]}" <<'PY' || status=1
import sys
from cfnlint.decode import decode

bad = 0
for path in sys.argv[1:]:
    template, matches = decode(path)
    if matches or not isinstance(template, dict):
        continue  # cfn-lint has reported why it cannot be read
    for name, resource in (template.get("Resources") or {}).items():
        metadata = resource.get("Metadata") if isinstance(resource, dict) else None
        checkov = metadata.get("checkov") if isinstance(metadata, dict) else None
        if checkov is None:
            continue
        skips = checkov.get("skip") if isinstance(checkov, dict) else None
        if not isinstance(skips, list):
            print(f"{path}: {name}: Metadata.checkov must hold a list `skip`", file=sys.stderr)
            bad += 1
            continue
        for skip in skips:
            ok = (isinstance(skip, dict) and str(skip.get("id", "")).strip()
                  and str(skip.get("comment", "")).strip())
            if not ok:
                print(f"{path}: {name}: checkov skip {skip!r} needs an `id` and a `comment`"
                      " saying why", file=sys.stderr)
                bad += 1
sys.exit(1 if bad else 0)
PY

echo "checkov $CHECKOV_VERSION: ${templates[*]#"$root/"}" >&2
files=()
for t in "${templates[@]}"; do files+=(--file "$t"); done
# checkov reads skips from a .checkov.yaml in the working directory and in the home directory:
# none may be in the repository, and checkov runs with an empty home. --skip-download: no calls to
# the vendor's platform (guidelines, severities); the checks are all local.
for config in .checkov.yaml .checkov.yml; do
    if [[ -e "$config" ]]; then
        echo "error: \`$config\`: checkov skips belong in each resource's Metadata, with a comment" >&2
        status=1
    fi
done
home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
HOME="$home" "$checkov/bin/checkov" --framework cloudformation --skip-download --compact --quiet \
    "${files[@]}" || status=1

if [[ $status -eq 0 ]]; then
    echo "lint: ${#templates[@]} template(s) clean" >&2
fi
exit "$status"
