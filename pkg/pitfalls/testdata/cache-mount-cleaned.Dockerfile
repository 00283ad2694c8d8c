FROM debian:bookworm
RUN rm -f /etc/apt/apt.conf.d/docker-clean
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    apt-get update && apt-get install -y git \
    && apt-get clean && rm -rf /var/lib/apt/lists/*

FROM python:3.12 AS py
COPY requirements.txt .
RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt && pip cache purge

FROM debian:bookworm AS heredoc
RUN rm -f /etc/apt/apt.conf.d/docker-clean
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked <<EOT
set -e
apt-get update
apt-get install -y vim
apt-get clean
EOT
