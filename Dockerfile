# syntax=docker/dockerfile:1
# Build on Debian bookworm with the FFmpeg -dev packages; run on
# bookworm-slim with only the runtime libraries.
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config clang libclang-dev \
      libavformat-dev libavcodec-dev libavutil-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin streamforge

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libavformat59 libavcodec59 libavutil57 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /data streamforge \
 && mkdir -p /data && chown streamforge /data
COPY --from=build /src/target/release/streamforge /usr/local/bin/streamforge
COPY streamforge.example.toml /etc/streamforge/streamforge.example.toml
USER streamforge
WORKDIR /data
ENV STREAMFORGE_SERVER_DATA_DIR=/data \
    STREAMFORGE_SERVER_LISTEN=0.0.0.0:5004
VOLUME ["/data"]
# HTTP (streams, Plex endpoints, API); HDHomeRun discovery; SSDP.
EXPOSE 5004/tcp 65001/udp 1900/udp
HEALTHCHECK --interval=30s --timeout=3s CMD ["/bin/sh", "-c", "exec 3<>/dev/tcp/127.0.0.1/5004 || exit 1"]
ENTRYPOINT ["/usr/local/bin/streamforge"]
# Mount your config at /data/streamforge.toml (read from the working dir),
# or pass --config. For discovery on the LAN, run with --network host.
CMD ["serve"]
