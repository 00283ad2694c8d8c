FROM python:3.12-slim
WORKDIR /app
COPY dev-requirements.txt poetry-requirements.txt ./
COPY requirements/ requirements/
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=bind,source=constraints.txt,target=/tmp/constraints.txt \
    pip install -c /tmp/constraints.txt -r dev-requirements.txt -r poetry-requirements.txt -r requirements/prod.txt
