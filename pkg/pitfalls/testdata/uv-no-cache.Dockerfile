FROM python:3.12-slim
COPY --from=ghcr.io/astral-sh/uv:latest /uv /bin/uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-cache

FROM python:3.12-slim AS env
ENV UV_NO_CACHE=1
RUN --mount=type=cache,id=uv,target=/uv-cache UV_CACHE_DIR=/uv-cache uv pip install --system requests
