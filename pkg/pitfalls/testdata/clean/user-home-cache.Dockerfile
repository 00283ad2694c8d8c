# A non-root RUN with its cache in its own home, and root again for a /root cache.
FROM python:3.12-slim
RUN useradd -m -u 1000 app
USER app
RUN --mount=type=cache,target=/home/app/.cache/pip,uid=1000 \
    pip install --user requests
USER 0:0
RUN --mount=type=cache,target=/root/.cache/pip pip install flask

FROM python:3.12-slim AS pointed
USER 1000
ENV PIP_CACHE_DIR=/root/.cache/pip
RUN --mount=type=cache,target=/root/.cache/pip,uid=1000 pip install requests
