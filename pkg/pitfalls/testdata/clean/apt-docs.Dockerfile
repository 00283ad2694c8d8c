# BuildKit's documented apt cache example (Dockerfile reference, RUN --mount=type=cache),
# and the usual list cleanup where no cache mount holds the lists.
FROM ubuntu
RUN rm -f /etc/apt/apt.conf.d/docker-clean; echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' > /etc/apt/apt.conf.d/keep-cache
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
  --mount=type=cache,target=/var/lib/apt,sharing=locked \
  apt update && apt-get --no-install-recommends install -y gcc

FROM ubuntu AS plain
RUN apt-get update && apt-get install -y curl && apt-get clean && rm -rf /var/lib/apt/lists/*

FROM ubuntu AS child
RUN rm -f /etc/apt/apt.conf.d/docker-clean
FROM child AS grandchild
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked apt-get update && apt-get install -y make && rm -rf /tmp/*

# The hook removed in the RUN that mounts the caches, before apt runs; a mount of the
# lists directory alone.
FROM ubuntu:24.04 AS same-run
RUN --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    --mount=type=cache,target=/var/cache/apt,sharing=locked \
    rm -f /etc/apt/apt.conf.d/docker-clean \
    && apt-get update && apt-get install -y --no-install-recommends tar
