# escape=`
FROM python:3.11-slim AS app
RUN --mount=type=cache,target=/root/.cache/pip `
    pip3 install -r requirements.txt
FROM app AS also-app
USER 1001
RUN --mount=type=cache,target=/tmp/.cache/pip,sharing=private pip install flask
