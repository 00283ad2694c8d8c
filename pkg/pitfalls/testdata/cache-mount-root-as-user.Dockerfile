FROM python:3.12-slim
RUN useradd -m app
USER app
WORKDIR /home/app
COPY requirements.txt .
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --user -r requirements.txt
