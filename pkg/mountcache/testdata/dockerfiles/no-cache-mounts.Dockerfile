FROM python:3.11-slim
WORKDIR /app
RUN --mount=type=bind,source=requirements.txt,target=/tmp/requirements.txt \
    --mount=type=secret,id=pipconf,target=/etc/pip.conf \
    pip install --no-cache-dir -r /tmp/requirements.txt
RUN --mount=type=tmpfs,target=/tmp echo hi
COPY . .
