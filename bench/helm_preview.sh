#!/usr/bin/env bash
# Measure `slipway preview` (release build) of a Helm environment against the pipeline users
# run today: `git worktree add` of both revisions, `helm template` of each (the two
# concurrently), `diff -u`.
#
# The chart renders 1,000 objects: 250 services × (Deployment, Service, ConfigMap,
# ServiceAccount) from one values file. Branch `change` gives 13 of the 250 services a new
# image tag in the environment's values file.
#
# Usage: bench/helm_preview.sh [RUNS]   (default 10 runs per command, after 2 warm-ups)
# Needs: cargo, git, python3, helm. Prints the median, min and max of each command and the
# ratio of medians.
set -euo pipefail

runs="${1:-10}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/slipway-helm-bench.XXXXXX")"

for tool in git python3 helm; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
done

(cd "$root" && cargo build --release --quiet --bin slipway)
slipway="${CARGO_TARGET_DIR:-$root/target}/release/slipway"

repo="$work/repo"
mkdir -p "$repo"
git -C "$repo" init --quiet --initial-branch=main
python3 - "$repo" <<'EOF'
import os, sys
repo = sys.argv[1]
def write(path, text):
    full = os.path.join(repo, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    open(full, "w").write(text)
write(".github/slipway.yml", "environments:\n  prod:\n    path: chart\n    namespace: team-prod\n    helm:\n      values: [values/prod.yaml]\n")
write("chart/Chart.yaml", "apiVersion: v2\nname: services\nversion: 1.0.0\n")
write("chart/values.yaml", "services: []\n")
write("chart/templates/services.yaml", """{{- range .Values.services }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .name }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .name }}
data:
  LOG_LEVEL: {{ .logLevel | quote }}
  UPSTREAM: "http://{{ .name }}.{{ $.Release.Namespace }}.svc:8080"
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .name }}
spec:
  selector:
    app: {{ .name }}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .name }}
  labels:
    app: {{ .name }}
spec:
  replicas: {{ .replicas }}
  selector:
    matchLabels:
      app: {{ .name }}
  template:
    metadata:
      labels:
        app: {{ .name }}
    spec:
      serviceAccountName: {{ .name }}
      containers:
      - name: app
        image: "registry.example.com/team/{{ .name }}:{{ .tag }}"
        envFrom:
        - configMapRef:
            name: {{ .name }}
        resources:
          requests:
            cpu: 100m
            memory: 128Mi
{{- end }}
""")
def values(changed):
    lines = ["services:"]
    for i in range(250):
        tag = "1.1.0" if i in changed else "1.0.0"
        lines += [f"- name: svc-{i:03d}", f"  tag: \"{tag}\"", "  replicas: 2", "  logLevel: info"]
    return "\n".join(lines) + "\n"
write("values/prod.yaml", values(set()))
open(os.path.join(repo, ".change"), "w").write(values(set(range(0, 250, 20))))
EOF
git -C "$repo" add -A -- . ':!.change'
git -C "$repo" -c user.name=bench -c user.email=bench@example.com commit --quiet -m base
git -C "$repo" checkout --quiet -b change
mv "$repo/.change" "$repo/values/prod.yaml"
git -C "$repo" -c user.name=bench -c user.email=bench@example.com commit --quiet -am change
git -C "$repo" checkout --quiet main

# The reference pipeline: worktrees of both revisions, both rendered concurrently, diff.
cat >"$work/reference.sh" <<'EOF'
#!/usr/bin/env bash
set -eu
repo="$1"; out="$2"
rm -rf "$out"; mkdir -p "$out"
git -C "$repo" worktree add --quiet --detach "$out/base" main
git -C "$repo" worktree add --quiet --detach "$out/head" change
helm template prod "$out/base/chart" --namespace team-prod -f "$out/base/values/prod.yaml" >"$out/base.yaml" &
helm template prod "$out/head/chart" --namespace team-prod -f "$out/head/values/prod.yaml" >"$out/head.yaml" &
wait
diff -u "$out/base.yaml" "$out/head.yaml" >"$out/prod.diff" || true
git -C "$repo" worktree remove --force "$out/base"
git -C "$repo" worktree remove --force "$out/head"
EOF
chmod +x "$work/reference.sh"

# Runs a command RUNS times after 2 warm-ups; prints the median, min and max in ms.
measure() {
    local times=() start end
    for i in $(seq 1 $((runs + 2))); do
        start=$(date +%s%N)
        "$@" >/dev/null 2>&1
        end=$(date +%s%N)
        [ "$i" -gt 2 ] && times+=($(( (end - start) / 1000000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%d %d %d\n", m, a[1], a[NR]}'
}

objects=$("$slipway" render --repo "$repo" --env prod --rev main 2>/dev/null | grep -c '^kind:' || true)
echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "tools: $(git --version), helm $(helm version --template '{{.Version}}')"
echo "objects per revision: $objects; runs: $runs per command (2 warm-ups); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
read -r ours ours_min ours_max < <(measure "$slipway" preview --repo "$repo" --base main --head change)
read -r ref ref_min ref_max < <(measure "$work/reference.sh" "$repo" "$work/reference")
echo "slipway preview: median ${ours} ms (min ${ours_min}, max ${ours_max})"
echo "reference:       median ${ref} ms (min ${ref_min}, max ${ref_max})"
awk -v a="$ours" -v b="$ref" 'BEGIN {printf "ratio of medians: %.2f\n", a / b}'
echo "work directory: $work"
