#!/usr/bin/env bash
# Measure `slipway preview` (release build) against the pipeline users run today:
# `git worktree add` of both revisions, `kubectl kustomize` of each environment (or nothing,
# for plain YAML), `diff -u`. Both layouts of bench/generate.py, both environments.
#
# Usage: bench/preview.sh [RUNS]        (default 10 runs per command, after 2 warm-ups)
# Needs: cargo, git, python3, kubectl (or kustomize), hyperfine, GNU time (/usr/bin/time).
# Prints a markdown table of medians, peak RSS and ratios; the raw hyperfine JSON stays in
# the work directory it names.
set -euo pipefail

runs="${1:-10}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/slipway-bench.XXXXXX")"

for tool in hyperfine git python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "bench: GNU time (/usr/bin/time) is required" >&2; exit 1; }
if command -v kustomize >/dev/null; then build="kustomize build"
elif command -v kubectl >/dev/null; then build="kubectl kustomize"
else echo "bench: kustomize or kubectl is required" >&2; exit 1; fi

(cd "$root" && cargo build --release --quiet --bin slipway)
target_dir="${CARGO_TARGET_DIR:-$root/target}"
slipway="$target_dir/release/slipway"

# The reference pipeline, as a script: worktrees of both revisions, render, diff.
cat >"$work/reference.sh" <<EOF
#!/usr/bin/env bash
# reference.sh REPO LAYOUT OUT: what a user's CI script does to preview a change.
set -eu
repo="\$1"; layout="\$2"; out="\$3"
git -C "\$repo" worktree add --quiet --detach "\$out/base" main
git -C "\$repo" worktree add --quiet --detach "\$out/head" change
for env in dev prod; do
    if [ "\$layout" = kustomize ]; then
        $build "\$out/base/envs/\$env" >"\$out/\$env-base.yaml"
        $build "\$out/head/envs/\$env" >"\$out/\$env-head.yaml"
        diff -u "\$out/\$env-base.yaml" "\$out/\$env-head.yaml" >"\$out/\$env.diff" || true
    else
        diff -ru "\$out/base/envs/\$env" "\$out/head/envs/\$env" >"\$out/\$env.diff" || true
    fi
done
EOF
chmod +x "$work/reference.sh"

# Peak resident set size (KiB) of the largest process a command runs.
peak_rss() {
    /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}'
}

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "tools: $(git --version), $build ($( (kustomize version 2>/dev/null || kubectl version --client 2>/dev/null | grep -i kustomize) | head -1)), $(hyperfine --version)"
echo "runs: $runs per command (2 warm-ups); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

for layout in plain kustomize; do
    repo="$work/$layout"
    python3 "$here/generate.py" --layout "$layout" "$repo"
    out="$work/$layout-reference"
    clean="git -C $repo worktree remove --force $out/base 2>/dev/null; git -C $repo worktree remove --force $out/head 2>/dev/null; git -C $repo worktree prune; rm -rf $out; mkdir -p $out"
    hyperfine --style basic --warmup 2 --runs "$runs" --export-json "$work/$layout.json" \
        -n "slipway preview ($layout)" "$slipway preview --repo $repo --base main --head change" \
        --prepare "$clean" \
        -n "reference ($layout)" "$work/reference.sh $repo $layout $out" >"$work/$layout.hyperfine.txt"
    bash -c "$clean"
    slipway_rss="$(peak_rss "$slipway" preview --repo "$repo" --base main --head change)"
    reference_rss="$(peak_rss "$work/reference.sh" "$repo" "$layout" "$out")"
    bash -c "$clean"
    python3 - "$work/$layout.json" "$layout" "$slipway_rss" "$reference_rss" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))
layout, slipway_rss, reference_rss = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ours, ref = data["results"]
def line(name, r, rss):
    return (f"  {name}: median {r['median']*1000:.0f} ms (min {r['min']*1000:.0f}, "
            f"max {r['max']*1000:.0f}), CPU {(r['user'] + r['system'])*1000:.0f} ms "
            f"(user+sys, mean), peak RSS {rss/1024:.0f} MiB")
print(f"{layout}:")
print(line("slipway preview", ours, slipway_rss))
print(line("reference      ", ref, reference_rss))
print(f"  ratio of medians: {ours['median']/ref['median']:.2f}")
EOF
done
echo
echo "raw results: $work"
