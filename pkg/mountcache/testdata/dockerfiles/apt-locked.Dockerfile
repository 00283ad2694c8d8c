FROM debian:bookworm
# Docker's docs: keep the downloaded archives, which the image's docker-clean deletes.
RUN rm -f /etc/apt/apt.conf.d/docker-clean; \
    echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' > /etc/apt/apt.conf.d/keep-cache
# The archive cache and the package lists, locked (apt locks them itself): apt's, found,
# but left out of auto (mount-caches: apt carries them).
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    apt-get update && apt-get --no-install-recommends install -y gcc
RUN --mount=type=cache,target=/var/cache/apt/archives,sharing=locked \
    apt update && apt install -y curl
# /var/cache/apt on a RUN that runs no apt is not apt's.
RUN --mount=type=cache,target=/var/cache/apt du -sh /var/cache/apt
