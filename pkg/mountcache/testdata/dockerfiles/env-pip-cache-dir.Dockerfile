FROM python:3.11-slim
ENV PIP_CACHE_DIR=/var/cache/pip XDG_CACHE_HOME=/var/cache
WORKDIR /app
RUN --mount=type=cache,target=$PIP_CACHE_DIR ["/bin/sh", "-c", "echo using $PIP_CACHE_DIR"]
RUN --mount=type=cache,target=cache,id=relative python3 -c "print('relative target joins WORKDIR')"
