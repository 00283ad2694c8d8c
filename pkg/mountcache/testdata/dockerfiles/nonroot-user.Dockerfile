FROM python:3.12-slim
RUN useradd --create-home --uid 1000 app
USER app
WORKDIR /home/app/src
COPY --chown=app:app requirements.txt .
RUN --mount=type=cache,target=/home/app/.cache/pip,uid=1000,gid=1000,mode=0755 \
    pip install --user -r requirements.txt
