FROM python:3.11-slim
RUN --mount=type=cache,target=/root/.cache \
    pip install -r requirements.txt
RUN useradd -m worker
USER worker:worker
RUN --mount=type=cache,target=/home/worker/.cache,uid=1000 echo "holds ~/.cache/pip of worker"
