FROM python:3.12-slim
ARG PIP_CACHE=/root/.cache/pip
ARG GIVEN
ENV CACHE_ROOT=/var/cache REL=.cache/uv
WORKDIR /root
RUN --mount=type=cache,target=${PIP_CACHE} pip install --target=/a wb-core
RUN --mount=type=cache,target=$CACHE_ROOT/pip,id=pip-var pip install --target=/b wb-core
RUN --mount=type=cache,target=${UNSET_HERE:-/opt/pip-default} PIP_CACHE_DIR=/opt/pip-default pip install --target=/c wb-core
RUN --mount=type=cache,target=$REL uv pip install --system wb-core
RUN --mount=type=cache,target="$GIVEN" pip install --target=/d wb-core
RUN --mount=type=cache,target=$PIP_CACHE \
    pip install --target=/e wb-core
