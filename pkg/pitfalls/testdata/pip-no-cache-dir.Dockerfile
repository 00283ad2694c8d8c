FROM python:3.12-slim
COPY requirements.txt .
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --no-cache-dir -r requirements.txt

FROM python:3.12-slim AS env
ENV PIP_NO_CACHE_DIR=1
COPY requirements.txt .
RUN --mount=type=cache,target=/root/.cache pip install -r requirements.txt

FROM python:3.12-slim AS inline
COPY requirements.txt .
RUN --mount=type=cache,id=pip,target=/pipcache PIP_CACHE_DIR=/pipcache PIP_NO_CACHE_DIR=yes pip install -r requirements.txt
