#!/usr/bin/env bash
# Checks deploy/Dockerfile without a Docker engine (none runs here): performs its steps in a
# temporary directory — each stage a folder, COPY from the repository or from an earlier
# stage, RUN with this project's Node 24 first on PATH — then checks the runtime stage:
# its entrypoint runs `validate` and `schema` on a tree with every write bit removed (the
# read-only root filesystem the chart sets), no dev dependency is in its node_modules, and
# USER is a numeric uid other than 0.
# Usage: scripts/check-dockerfile.sh [DOCKERFILE]   (default deploy/Dockerfile)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
dockerfile="$(realpath "${1:-$repo/deploy/Dockerfile}")"
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
export PATH="$repo/node_modules/.bin:$PATH"
fail() { echo "check-dockerfile: $dockerfile: $*" >&2; exit 1; }

# The final USER first: refusing a root image needs no build.
last_user="$(awk 'toupper($1) == "USER" { u = $2 } END { print u }' "$dockerfile")"
last_uid="${last_user%%:*}"
[[ "$last_uid" =~ ^[0-9]+$ ]] || fail "USER must be a numeric uid (got '${last_user:-none}'): names need /etc/passwd, and runAsNonRoot checks numbers"
[[ "$last_uid" != 0 ]] || fail "USER is root (uid 0): the image must run as a non-root user"

stage="" user="" entrypoint="" cmd=""
declare -A stages=()
lineno=0
# Instructions are one per line (no continuation lines in this Dockerfile: refused below).
while IFS= read -r line || [[ -n "$line" ]]; do
  lineno=$((lineno + 1))
  [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
  [[ "$line" == *'\' ]] && fail "line $lineno: continuation lines are not supported by this check"
  read -r op rest <<<"$line"
  case "${op^^}" in
    FROM)
      name="$(awk '{ for (i = 1; i <= NF; i++) if (toupper($i) == "AS") print $(i + 1) }' <<<"$rest")"
      stage="${name:-stage$lineno}"
      stages[$stage]="$work/$stage"
      mkdir -p "$work/$stage"
      user="" ;;
    WORKDIR) ;; # Each stage's folder stands for its WORKDIR.
    ENV) ;;
    COPY)
      from=""
      if [[ "$rest" == --from=* ]]; then
        from="${rest%% *}"; from="${from#--from=}"; rest="${rest#* }"
        [[ -n "${stages[$from]:-}" ]] || fail "line $lineno: COPY --from=$from: no such stage"
      fi
      read -r -a parts <<<"$rest"
      dest="${parts[-1]}"
      unset 'parts[-1]'
      for src in "${parts[@]}"; do
        if [[ -n "$from" ]]; then origin="${stages[$from]}/${src#/app/}"; else origin="$repo/$src"; fi
        [[ -e "$origin" ]] || fail "line $lineno: COPY $src: not found ($origin)"
        target="$work/$stage/${dest#./}"
        if [[ "$dest" == */ || "$dest" == "./" ]]; then mkdir -p "$target"; cp -a "$origin" "$target/"
        else mkdir -p "$(dirname "$target")"; cp -a "$origin" "$target"; fi
      done ;;
    RUN)
      echo "check-dockerfile: [$stage] RUN $rest" >&2
      (cd "$work/$stage" && bash -euo pipefail -c "${rest/npm install/npm install --prefer-offline}") >&2 \
        || fail "line $lineno: RUN failed: $rest" ;;
    USER) user="$rest" ;;
    ENTRYPOINT) entrypoint="$rest" ;;
    CMD) cmd="$rest" ;;
    *) fail "line $lineno: instruction $op is not handled by this check" ;;
  esac
done <"$dockerfile"

[[ -n "$stage" ]] || fail "no FROM"
runtime="$work/$stage"
uid="${user%%:*}"
[[ "$uid" =~ ^[0-9]+$ ]] || fail "USER must be a numeric uid (got '${user:-none}'): names need /etc/passwd, and runAsNonRoot checks numbers"
[[ "$uid" != 0 ]] || fail "USER is root (uid 0): the image must run as a non-root user"
[[ -n "$entrypoint" ]] || fail "no ENTRYPOINT"
for dev in typescript @biomejs/biome playwright-core fast-check; do
  [[ ! -e "$runtime/node_modules/$dev" ]] || fail "dev dependency $dev is in the image's node_modules"
done
mapfile -t argv < <(node -e 'for (const a of JSON.parse(process.argv[1])) console.log(a)' "$entrypoint")
[[ "${argv[0]}" == node ]] || fail "ENTRYPOINT must start with node (got ${argv[0]})"
chmod -R a-w "$runtime"
config="$runtime/examples/kubernetes-sentries.yaml"
(cd "$runtime" && HOME=/nonexistent node "${argv[@]:1}" validate -c "$config") >&2 \
  || fail "the entrypoint could not validate $config on a read-only tree"
(cd "$runtime" && HOME=/nonexistent node "${argv[@]:1}" schema >/dev/null) || fail "the entrypoint could not print the schema"
echo "check-dockerfile: $dockerfile: ok (runtime stage '$stage', USER $user, $(du -sh "$runtime" | cut -f1))"
