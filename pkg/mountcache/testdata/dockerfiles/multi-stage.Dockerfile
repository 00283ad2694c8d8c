FROM python:3.11-slim AS base
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build

FROM base AS builder
COPY requirements.txt .
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --wheel-dir /wheels -r requirements.txt

FROM base AS test
COPY requirements-dev.txt .
RUN --mount=type=cache,target=/root/.cache/pip,id=pip-dev pip install -r requirements-dev.txt
RUN --mount=type=cache,target=/root/.cache/pytest pytest -q

FROM python:3.11-slim AS runtime
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    --mount=type=cache,target=/root/.cache/pip \
    pip install --no-index --find-links=/wheels /wheels/*.whl
