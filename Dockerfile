# syntax=docker/dockerfile:1
# slipway's image: slipway, kubectl (kustomize renders) and helm (chart renders) on a root file
# system of a few Debian packages, no shell, no package manager, running as user 65532.
#
#   docker build -t ghcr.io/YOUR-ORG/slipway:v0.1.0 .
#
# The last stage's root file system is laid out by image/assemble from the packages listed in
# image/packages; the test suite builds its image with the same script and the same last
# stage (tests/image.rs reads this file), so what is tested is what ships. linux/amd64 only:
# the checksums in image/downloads.sha256 are those of the amd64 downloads.

# 1. slipway, built from this checkout with the versions in Cargo.lock.
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin slipway \
 && install -m 0755 target/release/slipway /slipway

# 2. kubectl and helm: official release downloads, refused unless their SHA-256 matches.
FROM docker.io/library/debian:bookworm AS tools
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
ARG KUBECTL_VERSION=v1.32.3
ARG HELM_VERSION=v3.17.2
WORKDIR /tools
COPY image/downloads.sha256 ./
RUN curl -fsSLo kubectl "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/amd64/kubectl" \
 && curl -fsSLO "https://get.helm.sh/helm-${HELM_VERSION}-linux-amd64.tar.gz" \
 && sha256sum --strict -c downloads.sha256 \
 && tar -xzf "helm-${HELM_VERSION}-linux-amd64.tar.gz" --strip-components=1 linux-amd64/helm \
 && chmod 0755 kubectl helm

# 3. The runtime root file system, from Debian's packages (signatures checked by apt).
FROM docker.io/library/debian:bookworm AS rootfs
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mmdebstrap \
 && rm -rf /var/lib/apt/lists/*
COPY image/ /image/
COPY --from=build /slipway /in/slipway
COPY --from=tools /tools/kubectl /tools/helm /in/
RUN /image/assemble /rootfs /in/slipway /in/kubectl /in/helm

# 4. The image: that root file system alone (COPY --from keeps its owners and modes).
FROM scratch AS runtime
COPY --from=rootfs /rootfs /
ENV PATH=/usr/local/bin:/usr/bin \
    HOME=/home/slipway
USER 65532:65532
WORKDIR /var/lib/slipway
EXPOSE 3000 9090
ENTRYPOINT ["/usr/local/bin/slipway"]
CMD ["serve"]
