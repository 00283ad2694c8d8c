FROM python:3.12-slim
RUN useradd --create-home app
USER app
WORKDIR /home/app
# pip runs as app and writes to /home/app/.cache/pip: root's directory stays empty.
RUN --mount=type=cache,target=/root/.cache/pip pip install --user requests
RUN --mount=type=cache,target=/home/app/.cache/pip,uid=1000 pip install --user flask
RUN --mount=type=cache,target=/root/.cache/pip,uid=1000 pip install --cache-dir=/root/.cache/pip --user httpx
