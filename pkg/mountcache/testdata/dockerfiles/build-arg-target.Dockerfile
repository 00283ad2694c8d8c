ARG PYTHON_VERSION=3.11
ARG PIP_CACHE=/root/.cache/pip
ARG NOT_REDECLARED=/root/.cache/never-seen
FROM python:${PYTHON_VERSION}-slim
ARG PIP_CACHE
ARG CACHE_ROOT=/root/.cache
ARG CACHE_FLAVOUR=default
RUN --mount=type=cache,target=${PIP_CACHE},id=pip-${PYTHON_VERSION}-${CACHE_FLAVOUR} pip install requests
RUN --mount=type=cache,target=$CACHE_ROOT/wheels-$TARGETARCH python -m pip wheel -w /out requests
ARG TARGETARCH
RUN --mount=type=cache,target=$CACHE_ROOT/wheels-$TARGETARCH python -m pip wheel -w /out requests
RUN --mount=type=cache,target=/opt/cache$NOT_REDECLARED true
