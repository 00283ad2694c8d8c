# Dependency files bound into the install's RUN (the `docker init` pattern): the install
# needs no COPY, the code is copied after it, and the user changes after the cache mount.
FROM node:20-alpine
WORKDIR /usr/src/app
RUN --mount=type=bind,source=package.json,target=package.json \
    --mount=type=bind,source=package-lock.json,target=package-lock.json \
    --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev
USER node
COPY . .
CMD ["node", "src/index.js"]

FROM python:3.12-slim AS py
RUN adduser --disabled-password --no-create-home --uid 10001 appuser
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=bind,source=requirements.txt,target=requirements.txt \
    python -m pip install -r requirements.txt
USER appuser
COPY . .
