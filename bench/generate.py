#!/usr/bin/env python3
"""Generate a config repo for benchmarking `slipway preview`.

250 services, each a Deployment, Service, ConfigMap and Secret (1,000 objects per
environment), in two environments, dev and prod. `main` holds the starting state; the branch
`change` changes 5% of dev's services (13 of 250): a new image tag, a new config value and a
new secret value.

Layouts:
  plain      envs/<env>/svc-NNN.yaml, four documents per file, one file per service.
  kustomize  a base per service, base/svc-NNN/ (Deployment, Service); per environment an
             overlay per service, envs/<env>/svc-NNN/, with the service's image tag
             (`images:`) and its own config (ConfigMap, Secret), gathered by
             envs/<env>/kustomization.yaml, which sets the namespace.

Usage: bench/generate.py --layout plain|kustomize DIR
"""

import argparse
import base64
import os
import subprocess
import sys

SERVICES = 250
CHANGED = [i for i in range(SERVICES) if i % 20 == 3]  # 13 services: 5% of 250, rounded up
REGISTRY = "registry.example.com/team"


def name(i):
    return f"svc-{i:03d}"


def b64(text):
    return base64.b64encode(text.encode()).decode()


def service_yaml(i, namespace, tag, log_level, password):
    """The four objects of one service as a multi-document YAML file."""
    return workload_yaml(i, namespace, tag) + "---\n" + config_yaml(i, namespace, log_level, password)


def workload_yaml(i, namespace, tag):
    """A service's Deployment and Service."""
    n = name(i)
    ns = f"  namespace: {namespace}\n" if namespace else ""
    return f"""\
# {n}: generated for the slipway benchmark
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {n}
{ns}  labels:
    app.kubernetes.io/name: {n}
    app.kubernetes.io/part-of: shop
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: {n}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {n}
    spec:
      containers:
        - name: {n}
          image: {REGISTRY}/{n}:{tag}
          ports:
            - name: http
              containerPort: 8080
          envFrom:
            - configMapRef:
                name: {n}
            - secretRef:
                name: {n}
          resources:
            requests: {{cpu: 50m, memory: 64Mi}}
            limits: {{memory: 128Mi}}
          readinessProbe:
            httpGet: {{path: /healthz, port: http}}
---
apiVersion: v1
kind: Service
metadata:
  name: {n}
{ns}spec:
  selector:
    app.kubernetes.io/name: {n}
  ports:
    - name: http
      port: 80
      targetPort: http
"""


def config_yaml(i, namespace, log_level, password):
    """A service's ConfigMap and Secret."""
    n = name(i)
    ns = f"  namespace: {namespace}\n" if namespace else ""
    return f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {n}
{ns}data:
  LOG_LEVEL: {log_level}
  UPSTREAM_URL: http://{name((i + 1) % SERVICES)}.{namespace or "default"}.svc
  FEATURE_FLAGS: "checkout,search,recommendations"
---
apiVersion: v1
kind: Secret
metadata:
  name: {n}
{ns}type: Opaque
data:
  DATABASE_PASSWORD: {b64(password)}
  API_TOKEN: {b64("token-" + n + "-0123456789abcdef")}
"""


def write(root, path, text):
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)


def git(root, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com",
               GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null")
    subprocess.run(["git", *args], cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)


CONFIG = """\
environments:
  dev:
    path: envs/dev
    namespace: team-dev
  prod:
    path: envs/prod
    namespace: team-prod
    promote_from: dev
"""


def plain(root, changed):
    for env in ("dev", "prod"):
        for i in range(SERVICES):
            is_changed = changed and env == "dev" and i in CHANGED
            write(root, f"envs/{env}/{name(i)}.yaml", service_yaml(
                i, None,
                tag="1.1.0" if is_changed else "1.0.0",
                log_level="debug" if is_changed else "info",
                password=f"{env}-{name(i)}-{'rotated' if is_changed else 'initial'}-password"))


def kustomize(root, changed):
    for i in range(SERVICES):
        n = name(i)
        write(root, f"base/{n}/workload.yaml", workload_yaml(i, None, tag="1.0.0"))
        write(root, f"base/{n}/kustomization.yaml", "resources:\n  - workload.yaml\n")
    for env in ("dev", "prod"):
        write(root, f"envs/{env}/kustomization.yaml",
              "apiVersion: kustomize.config.k8s.io/v1beta1\n"
              "kind: Kustomization\n"
              f"namespace: team-{env}\n"
              "resources:\n" + "".join(f"  - {name(i)}\n" for i in range(SERVICES)))
        for i in range(SERVICES):
            n = name(i)
            is_changed = changed and env == "dev" and i in CHANGED
            write(root, f"envs/{env}/{n}/kustomization.yaml", f"""\
resources:
  - ../../../base/{n}
  - config.yaml
images:
  - name: {REGISTRY}/{n}
    newTag: {'1.1.0' if is_changed else '1.0.0'}
""")
            write(root, f"envs/{env}/{n}/config.yaml", config_yaml(
                i, None,
                log_level="debug" if is_changed else "info",
                password=f"{env}-{n}-{'rotated' if is_changed else 'initial'}-password"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", choices=["plain", "kustomize"], required=True)
    parser.add_argument("dir")
    args = parser.parse_args()
    root = args.dir
    if os.path.exists(root) and os.listdir(root):
        sys.exit(f"{root} exists and is not empty")
    os.makedirs(root, exist_ok=True)
    build = plain if args.layout == "plain" else kustomize
    git(root, "init", "--quiet", "--initial-branch=main")
    write(root, ".github/slipway.yml", CONFIG)
    build(root, changed=False)
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "-m", "Services at 1.0.0")
    git(root, "checkout", "--quiet", "-b", "change")
    build(root, changed=True)
    git(root, "commit", "--quiet", "--all", "-m", "Release 13 dev services: new tag, config and secret")
    git(root, "checkout", "--quiet", "main")


if __name__ == "__main__":
    main()
