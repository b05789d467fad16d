# syntax=docker/dockerfile:1
# Dockerfile - the schemagate image: a builder that compiles and runs the unit
# tests, and a shell-less runtime stage (FROM scratch) with the binary, exactly
# the shared libraries it loads, CA roots and a numeric user.
#
#   docker build -t schemagate:0.1.0 .
#   (podman/buildah: ci/image.sh, see docs/deploying.md "Container image")
#
# Application images add their migrations in a derived image:
#
#   FROM ghcr.io/schemagate/schemagate:0.1.0
#   COPY migrations/ /migrations/
#
# and the chart runs them with migrations.source=image.

ARG DEBIAN_RELEASE=bookworm

FROM debian:${DEBIAN_RELEASE} AS builder
# Unit tests only: the integration tests need PostgreSQL and Redis, which CI
# (ci/test.sh) provides. CI builds the image with UNIT_TESTS=0 because it has
# just run the same tests itself; a plain `docker build .` runs them.
ARG UNIT_TESTS=1
RUN if [ "$UNIT_TESTS" = 1 ]; then criterion=libcriterion-dev; else criterion=; fi \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config ca-certificates \
      libpq-dev libhiredis-dev libcivetweb-dev civetweb libjson-c-dev libyaml-dev $criterion \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN if [ "$UNIT_TESTS" = 1 ]; then tests=ON; else tests=OFF; fi \
 && cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCHEMAGATE_WERROR=ON -DSCHEMAGATE_TESTS="$tests" \
 && cmake --build /build -j"$(nproc)" \
 && if [ "$tests" = ON ]; then ctest --test-dir /build -L unit --output-on-failure; fi \
 && strip --strip-debug -o /schemagate /build/schemagate \
 && bash ci/runtime-rootfs.sh /schemagate /rootfs

# Nothing but what runs: ci/runtime-rootfs.sh put the binary, its ldd closure
# (the dynamic loader included), /etc/ssl/certs/ca-certificates.crt, passwd and
# group entries for 65532 and an empty /migrations into /rootfs. No shell, no
# package manager; ci/checks.d/20-runtime-deps.sh checks that layout.
FROM scratch AS runtime
COPY --from=builder /rootfs/ /

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="schemagate" \
      org.opencontainers.image.description="Safe, observable PostgreSQL schema migrations for Kubernetes: migrate init container and readiness sidecar" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/schemagate/schemagate"

# /migrations: where the chart mounts its ConfigMap, or where a derived image
# COPYs the files (migrations.source=image). Read-only at run time.
ENV MIGRATIONS_DIR=/migrations
WORKDIR /migrations
# A numeric non-root user, so that runAsNonRoot can verify it without /etc/passwd.
USER 65532:65532
EXPOSE 8081
# For `docker run ... serve`; Kubernetes ignores HEALTHCHECK and uses the
# chart's probes. The URL is explicit, like everything the chart passes.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/schemagate", "probe", "--url=http://127.0.0.1:8081/readyz", "--probe-timeout=2s"]
ENTRYPOINT ["/usr/local/bin/schemagate"]
CMD ["--help"]
# Last step: the binary must start inside the finished stage, as its user. In
# exec form because there is no shell; a library missing from the closure
# fails the build here.
RUN ["/usr/local/bin/schemagate", "--version"]
