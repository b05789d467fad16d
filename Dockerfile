# syntax=docker/dockerfile:1
# Dockerfile - the schemagate image: a builder that compiles and runs the unit
# tests, and a small non-root runtime stage with only the shared libraries the
# binary links.
#
#   docker build -t schemagate:0.1.0 .
#
# Application images add their migrations in a derived image:
#
#   FROM ghcr.io/schemagate/schemagate:0.1.0
#   COPY migrations/ /migrations/
#
# and the chart runs them with migrations.source=image.

ARG DEBIAN_RELEASE=bookworm

FROM debian:${DEBIAN_RELEASE} AS builder
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config ca-certificates \
      libpq-dev libhiredis-dev libcivetweb-dev civetweb libjson-c-dev libyaml-dev libcriterion-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Unit tests only: the integration tests need PostgreSQL and Redis, which CI
# (ci/test.sh) provides.
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCHEMAGATE_WERROR=ON \
 && cmake --build /build -j"$(nproc)" \
 && ctest --test-dir /build -L unit --output-on-failure \
 && strip --strip-debug -o /schemagate /build/schemagate

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# runtime-packages: exactly the Debian packages that own the shared libraries
# the binary links (its DT_NEEDED entries, libc6 aside: the base image has it).
# ci/checks.d/20-runtime-deps.sh compares this line with `ldd` + `dpkg -S` of
# the binary CI builds and fails on a missing or superfluous package.
ARG RUNTIME_PACKAGES="libpq5 libhiredis0.14 libcivetweb1 libjson-c5 libyaml-0-2"
# Not library owners: CA roots for sslmode=verify-full. Checked to exist only.
ARG RUNTIME_EXTRA_PACKAGES="ca-certificates"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ${RUNTIME_PACKAGES} ${RUNTIME_EXTRA_PACKAGES} \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /migrations
COPY --from=builder /schemagate /usr/local/bin/schemagate

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="schemagate" \
      org.opencontainers.image.description="Safe, observable PostgreSQL schema migrations for Kubernetes: migrate init container and readiness sidecar" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/schemagate/schemagate" \
      org.opencontainers.image.base.name="debian:${DEBIAN_RELEASE}-slim"

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
