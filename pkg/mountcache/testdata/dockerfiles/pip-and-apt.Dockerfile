FROM python:3.11-slim
RUN rm -f /etc/apt/apt.conf.d/docker-clean
COPY requirements.txt /tmp/
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/root/.cache/pip \
    apt-get update && apt-get install -y --no-install-recommends gcc libpq-dev \
    && pip install -r /tmp/requirements.txt
