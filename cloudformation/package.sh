#!/usr/bin/env bash
# Builds the Lambda package (`bootstrap.zip`) with cargo lambda and prints its path, SHA-256 and
# size; given a bucket, uploads it and deploys or updates the stack. Run `package.sh --help`.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: cloudformation/package.sh [--arm64] [--bucket BUCKET [--stack NAME] [--region REGION]
                                 [--template FILE] [--parameter KEY=VALUE]...]

Builds Warden's Lambda (the `bootstrap` binary, cargo profile `lambda`) with `cargo lambda build`
into `bootstrap.zip`, and prints its path, SHA-256 and size. cargo lambda (and the zig toolchain it
links with) is installed on first use, from PyPI, into ~/.cache/warden/.

With --bucket, it then uploads the zip to s3://BUCKET/warden/bootstrap-ARCH-SHA256.zip (a new key
for every build, so CloudFormation sees the code change) and runs `aws cloudformation deploy`, which
creates the stack or updates it, with CodeBucket, CodeKey and (when the template has it)
Architecture set to the build's; the template goes through the same bucket (over 51,200 bytes,
CloudFormation takes it only from S3). The AWS CLI's usual configuration applies (credentials,
AWS_REGION, AWS_ENDPOINT_URL); without an `aws` on PATH, a pinned AWS CLI is installed.

Options:
  --arm64              build for arm64 (Graviton; the template's default architecture). Without
                       it, the build is for this machine's architecture
  --bucket BUCKET      upload the zip to this S3 bucket and deploy (it must exist, in REGION)
  --stack NAME         the stack to create or update (default: warden)
  --region REGION      the region of the bucket and the stack (default: the AWS CLI's)
  --template FILE      the template to deploy (default: cloudformation/warden.yaml)
  --parameter KEY=VALUE
                       a template parameter, e.g. --parameter Mode=enforce (repeatable; the
                       parameters not given keep the stack's current values on an update)
  -h, --help           this help

Exit codes: 0 built (and deployed); 1 the build, the upload or the deploy failed; 2 usage error.
EOF
}

die_usage() {
    echo "error: $1" >&2
    echo "run \`cloudformation/package.sh --help\` for the usage" >&2
    exit 2
}

arm64=false
bucket=""
stack="warden"
region=""
template="cloudformation/warden.yaml"
parameters=()
while [[ $# -gt 0 ]]; do
    case "$1" in
    -h | --help)
        usage
        exit 0
        ;;
    --arm64) arm64=true ;;
    --bucket | --stack | --region | --template | --parameter)
        [[ $# -ge 2 && -n "$2" ]] || die_usage "\`$1\` needs a value"
        case "$1" in
        --bucket) bucket=$2 ;;
        --stack) stack=$2 ;;
        --region) region=$2 ;;
        --template) template=$2 ;;
        --parameter)
            [[ "$2" == ?*=* ]] || die_usage "\`--parameter $2\`: expected KEY=VALUE"
            parameters+=("$2")
            ;;
        esac
        shift
        ;;
    *) die_usage "unexpected argument \`$1\`" ;;
    esac
    shift
done
if [[ -z "$bucket" ]]; then
    [[ ${#parameters[@]} -eq 0 && "$stack" == warden && -z "$region" &&
        "$template" == cloudformation/warden.yaml ]] ||
        die_usage "--stack, --region, --template and --parameter need --bucket (they deploy)"
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# A template given is relative to where the script was run; the default, to the repository.
[[ "$template" == cloudformation/warden.yaml ]] || template="$(realpath -m -- "$template")"
cd "$root"
# shellcheck source=cloudformation/tools.sh
source cloudformation/tools.sh

if [[ -n "$bucket" && ! -f "$template" ]]; then
    echo "error: the template \`$template\` does not exist" >&2
    exit 1
fi

# The build.
if $arm64; then
    arch=arm64 target_flag=--arm64
else
    case "$(uname -m)" in
    x86_64) arch=x86_64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *)
        echo "error: Lambda runs x86_64 or arm64; this machine is $(uname -m) (use --arm64)" >&2
        exit 1
        ;;
    esac
    target_flag=$([[ $arch == arm64 ]] && echo --arm64 || echo --x86-64)
fi
venv="$(ensure_venv "cargo-lambda-$CARGO_LAMBDA_VERSION-zig-$ZIGLANG_VERSION" \
    "cargo lambda $CARGO_LAMBDA_VERSION and zig $ZIGLANG_VERSION" 30 \
    "cargo-lambda==$CARGO_LAMBDA_VERSION" "ziglang==$ZIGLANG_VERSION")"
# `cargo lambda` is `cargo-lambda` on PATH; zig is found as `python3 -m ziglang` of the same venv.
export PATH="$venv/bin:$PATH"
target_dir="$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
lambda_dir="$target_dir/lambda/$arch"
echo "building bootstrap.zip for $arch (cargo lambda build --profile lambda)" >&2
# The `lambda` profile (Cargo.toml) sets every size option itself; cargo lambda adds its own
# defaults only to `--release`.
cargo lambda build --profile lambda --bin bootstrap --output-format zip "$target_flag" \
    --lambda-dir "$lambda_dir"
zip="$lambda_dir/bootstrap/bootstrap.zip"
[[ -f "$zip" ]] || {
    echo "error: cargo lambda finished but \`$zip\` is missing" >&2
    exit 1
}
sha256="$(sha256sum "$zip" | cut -d' ' -f1)"
size="$(stat -c %s "$zip")"
printf 'zip      %s\n' "$zip"
printf 'arch     %s\n' "$arch"
printf 'sha256   %s\n' "$sha256"
printf 'size     %s bytes (%s MB)\n' "$size" "$(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }')"

[[ -n "$bucket" ]] || exit 0

# The upload and the deploy.
if command -v aws >/dev/null; then
    aws=(aws)
else
    aws_venv="$(ensure_venv "awscli-$AWSCLI_VERSION" "the AWS CLI $AWSCLI_VERSION" 20 \
        "awscli==$AWSCLI_VERSION")"
    aws=("$aws_venv/bin/aws")
fi
region_args=()
[[ -n "$region" ]] && region_args=(--region "$region")
key="warden/bootstrap-$arch-$sha256.zip"
echo "uploading to s3://$bucket/$key" >&2
"${aws[@]}" "${region_args[@]}" s3 cp --only-show-errors "$zip" "s3://$bucket/$key"

overrides=("CodeBucket=$bucket" "CodeKey=$key")
# The architecture follows the build, unless given (a template without the parameter gets none).
if grep -qE '^  Architecture:' "$template" &&
    ! printf '%s\n' "${parameters[@]}" | grep -q '^Architecture='; then
    overrides+=("Architecture=$arch")
fi
overrides+=("${parameters[@]}")
echo "deploying stack $stack from $template" >&2
"${aws[@]}" "${region_args[@]}" cloudformation deploy \
    --stack-name "$stack" \
    --template-file "$template" \
    --s3-bucket "$bucket" --s3-prefix warden/templates \
    --parameter-overrides "${overrides[@]}" \
    --capabilities CAPABILITY_NAMED_IAM \
    --no-fail-on-empty-changeset
printf 'stack    %s\n' "$stack"
printf 'code     s3://%s/%s\n' "$bucket" "$key"
