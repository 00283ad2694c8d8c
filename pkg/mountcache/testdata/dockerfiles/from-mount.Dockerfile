FROM python:3.12-slim AS wheels
RUN mkdir -p /seed

FROM python:3.12-slim
# A cache seeded from another stage: warmbuild cannot reproduce its directory, and the
# user never asked for it, so auto leaves it out without a word.
RUN --mount=type=cache,target=/root/.cache/pip,from=wheels,source=/seed \
    pip install requests
RUN --mount=type=cache,target=/root/.cache/pip pip install flask
