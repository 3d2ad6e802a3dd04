# syntax=docker/dockerfile:1
# Build on Debian bookworm with the FFmpeg -dev packages; run on
# bookworm-slim with only the runtime libraries.
#
#   docker build -t streamforge .
#   docker run -d --name streamforge --network host --restart unless-stopped \
#     -v /srv/streamforge:/data streamforge
#
# /data holds streamforge.toml (read from the working directory; it holds
# provider credentials, so keep it 0640) and the SQLite database. The
# process runs as uid/gid 999 (user streamforge): the host directory must be
# writable by it (`chown -R 999:999 /srv/streamforge`). Use --network host:
# HDHomeRun discovery (UDP 65001) and SSDP (UDP 1900 multicast) do not cross
# Docker's default bridge, so without it Plex can only be given the address
# by hand, and the address the log and discover.json report is the
# container's, not the host's (set server.public_url then).

# Versions are not pinned: the packages follow bookworm's security updates.
# hadolint global ignore=DL3008
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config clang libclang-dev \
      libavformat-dev libavcodec-dev libavutil-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin streamforge

FROM debian:bookworm-slim
# No curl or wget on slim, and its /bin/sh is dash (no /dev/tcp): the
# health check is the binary's own `streamforge healthcheck`.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
      libavformat59 libavcodec59 libavutil57 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 999 streamforge \
 && useradd --system --uid 999 --gid 999 --home-dir /data --shell /usr/sbin/nologin streamforge \
 && mkdir -p /data && chown 999:999 /data
COPY --from=build /src/target/release/streamforge /usr/local/bin/streamforge
# The commented example; copy it out with
#   docker run --rm --entrypoint cat streamforge /etc/streamforge/streamforge.example.toml
COPY streamforge.example.toml /etc/streamforge/streamforge.example.toml
USER 999:999
WORKDIR /data
ENV STREAMFORGE_SERVER_DATA_DIR=/data \
    STREAMFORGE_SERVER_LISTEN=0.0.0.0:5004
VOLUME ["/data"]
# HTTP (streams, Plex endpoints, API); HDHomeRun discovery; SSDP.
EXPOSE 5004/tcp 65001/udp 1900/udp
# Exec form, no shell. `streamforge healthcheck` reads the same config and
# STREAMFORGE_SERVER_LISTEN as `serve`, so it follows a changed port, and
# exits non-zero on a refused connection, a timeout (3 s) or a non-2xx
# answer from GET /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/usr/local/bin/streamforge", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/streamforge"]
# Or pass --config /data/other.toml.
CMD ["serve"]
