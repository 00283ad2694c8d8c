FROM python:3.12-slim
ARG EXTRA=wb-extra==1.0.0
ENV PIP_INDEX_URL=http://127.0.0.1:3141/simple
# No requirements file: the packages, the constraint and index options, ENV and ARG
# values decide what pip fetches, so they decide the key (stepDigest).
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --target=/pkgs -c /etc/constraints.txt wb-core wb-fastmath ${EXTRA}
