FROM python:3.11-slim
WORKDIR /srv
COPY requirements.txt .
RUN --mount=type=cache,id=shop-pip,target=/root/.cache/pip pip install -r requirements.txt
