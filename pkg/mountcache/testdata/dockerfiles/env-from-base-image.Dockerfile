FROM ghcr.io/example/python-app-base:3.12
# APP_UID and APP_HOME come from the base image's ENV: BuildKit resolves them at build
# time, discovery cannot. Only these mounts are skipped (and named); the others are found.
RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt
USER app
RUN --mount=type=cache,target=/home/app/.cache/pip,uid=${APP_UID},gid=${APP_UID} \
    --mount=type=cache,target=/var/cache/apt,sharing=locked \
    pip install --user flask
RUN --mount=type=cache,target=${APP_HOME}/.cache/pip pip install --user httpx
