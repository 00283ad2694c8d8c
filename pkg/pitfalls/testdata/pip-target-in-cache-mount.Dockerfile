FROM python:3.12-slim
RUN --mount=type=cache,target=/opt/deps \
    pip install --target /opt/deps/site requests
RUN --mount=type=cache,target=/install \
    python -m pip install --prefix=/install flask
