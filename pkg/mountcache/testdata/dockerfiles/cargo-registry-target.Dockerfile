FROM rust:1.83 AS build
WORKDIR /app
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# Docker's docs: the registry (a download cache, carried by auto) and the build directory
# (a build cache: found, named cargo-target, but left out of auto).
RUN --mount=type=cache,target=/usr/local/cargo/registry/ \
    --mount=type=cache,target=/app/target/ \
    cargo build --release && cp target/release/app /bin/app
# The git dependencies' bare repositories and the registry's archives, inside CARGO_HOME.
RUN --mount=type=cache,target=/usr/local/cargo/git/db \
    --mount=type=cache,target=/usr/local/cargo/registry/cache \
    cargo fetch --locked
# The registry on a RUN that runs no cargo is not Cargo's.
RUN --mount=type=cache,target=/usr/local/cargo/registry ls /usr/local/cargo/registry

FROM rust:1.83 AS moved
# CARGO_HOME and the build directory moved: by ENV, by --target-dir, by a variable.
ENV CARGO_HOME=/opt/cargo
WORKDIR /src
RUN --mount=type=cache,target=/opt/cargo/registry \
    --mount=type=cache,target=/tmp/cargo-target \
    cargo build --release --target-dir /tmp/cargo-target
RUN --mount=type=cache,target=/cache/target CARGO_TARGET_DIR=/cache/target cargo test
# With CARGO_HOME moved, the image's /usr/local/cargo/registry is no longer where cargo
# downloads to.
RUN --mount=type=cache,target=/usr/local/cargo/registry cargo build

FROM debian:bookworm AS rustup
# cargo installed by rustup in the user's home: ~/.cargo, found for USER builder; a mount
# of the whole ~/.cargo holds its registry.
RUN useradd -m builder
USER builder
WORKDIR /home/builder/app
RUN --mount=type=cache,target=/home/builder/.cargo/registry,uid=1000 \
    --mount=type=cache,target=/home/builder/app/target,uid=1000 \
    ~/.cargo/bin/cargo build --release
RUN --mount=type=cache,target=/home/builder/.cargo,uid=1000 ~/.cargo/bin/cargo build

FROM python:3.12 AS pyext
# pip building a Rust extension (maturin runs cargo): Cargo's registry stays out of pip's
# mounts.
COPY requirements.txt .
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=cache,target=/root/.cargo/registry \
    pip install -r requirements.txt

FROM debian:bookworm-slim
COPY --from=build /bin/app /bin/app
COPY --from=moved /src /moved
COPY --from=rustup /home/builder/app /rustup
COPY --from=pyext /usr/local/lib /pyext
