# syntax=docker/dockerfile:1
# One builder, one small non-root runtime image per function:
#   docker build --target fetch     -t bacca-fetch .
#   docker build --target anonymize -t bacca-anonymize .
#   docker build --target expire    -t bacca-expire .
# scripts/build-images.sh builds and tags all three.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin bacca-fetch --bin bacca-anonymize --bin bacca-expire \
 && mkdir -p /out \
 && cp target/release/bacca-fetch target/release/bacca-anonymize target/release/bacca-expire /out/

# distroless/cc has glibc and libgcc (the binaries link them dynamically) and no shell;
# the :nonroot tag runs as uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot AS base
ENV PORT=8080
EXPOSE 8080
USER nonroot:nonroot

FROM base AS fetch
COPY --from=builder /out/bacca-fetch /usr/local/bin/bacca-fetch
ENTRYPOINT ["/usr/local/bin/bacca-fetch"]

FROM base AS anonymize
COPY --from=builder /out/bacca-anonymize /usr/local/bin/bacca-anonymize
ENTRYPOINT ["/usr/local/bin/bacca-anonymize"]

FROM base AS expire
COPY --from=builder /out/bacca-expire /usr/local/bin/bacca-expire
ENTRYPOINT ["/usr/local/bin/bacca-expire"]
