# One image for every role: NODE_ROLES picks what a container runs (ops/README.md).
# Build stage: the project's own install script, a Release build of the binary.
# Runtime stage: the shared libraries the binary needs, tini, a non-root user.
# Without a registry, ops/scripts/base-image.sh makes debian:bookworm-slim first.
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
COPY ops/scripts/install-deps.sh /src/ops/scripts/install-deps.sh
RUN bash /src/ops/scripts/install-deps.sh --build-only
COPY . /src
WORKDIR /src
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null \
    && cmake --build /build --target orchestrator -j"$(nproc)" \
    && strip /build/orchestrator \
    && bash ops/scripts/runtime-packages.sh /build/orchestrator > /build/runtime-packages.txt

FROM ${BASE_IMAGE}
COPY --from=build /build/runtime-packages.txt /tmp/runtime-packages.txt
# hadolint ignore=DL3008
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive xargs -a /tmp/runtime-packages.txt \
       apt-get install -y -qq --no-install-recommends tini ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /tmp/runtime-packages.txt \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/orchestrator \
       --create-home --shell /usr/sbin/nologin orchestrator
COPY --from=build /build/orchestrator /usr/local/bin/orchestrator
USER orchestrator
WORKDIR /var/lib/orchestrator
ENV HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080 \
    ORCH_HOME=/var/lib/orchestrator \
    LOG_FORMAT=json
EXPOSE 8080 7000
# SIGTERM drains: runs in flight get SHUTDOWN_GRACE (give the container longer).
STOPSIGNAL SIGTERM
# Readiness of this node alone: /health also judges the cluster (a leader
# somewhere, a worker up), which must not mark every container unhealthy.
# The check is an exec into the container: on a host loaded to its limits
# starting it can take seconds, so the timeout is generous (a hung node still
# fails three checks in a row, within 45 s) while the interval keeps rolling
# deploys quick.
HEALTHCHECK --interval=5s --timeout=10s --start-period=60s --retries=3 \
  CMD ["orchestrator", "health", "--path", "/ready", "--timeout", "8s"]
# tini is PID 1: it forwards signals and reaps orphaned step processes.
ENTRYPOINT ["/usr/bin/tini", "--", "orchestrator"]
CMD ["serve"]
