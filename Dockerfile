# syntax=docker/dockerfile:1
# The helpdesk server as a container: built in the Rust image, run in a slim Debian image as a
# non-root user, data in a volume, health from /readyz. `compose.yaml` runs it with PostgreSQL,
# an S3-compatible server and a mail catcher. (These recipes are not run by CI, which has no
# Docker engine; scripts/package-tests.sh runs the binary under this file's environment and
# user instead. See packaging/README.md.)

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --profile dist --locked -p helpdesk-http --bin helpdesk \
    && install -D target/dist/helpdesk /out/helpdesk

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 helpdesk \
    && useradd --system --uid 10001 --gid helpdesk --home-dir /var/lib/helpdesk --shell /usr/sbin/nologin helpdesk \
    && install -d -o helpdesk -g helpdesk -m 0750 /var/lib/helpdesk
COPY --from=build /out/helpdesk /usr/local/bin/helpdesk
USER 10001:10001
WORKDIR /var/lib/helpdesk
ENV HELPDESK_LISTEN=0.0.0.0:8080 \
    HELPDESK_DATA_DIR=/var/lib/helpdesk \
    HELPDESK_LOG_FORMAT=json
VOLUME ["/var/lib/helpdesk"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/helpdesk"]
CMD ["serve"]
