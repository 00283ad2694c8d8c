FROM node:20-bookworm AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --loglevel=http
# --cache on the command line
RUN --mount=type=cache,target=/tmp/npmc npm install --cache /tmp/npmc
# node_modules is the install, not npm's cache: never carried by auto
RUN --mount=type=cache,target=/app/node_modules npm ci
# npm and pip in one RUN: each mount is its own tool's
RUN --mount=type=cache,target=/root/.npm --mount=type=cache,target=/root/.cache/pip \
    pip install -r requirements.txt && npm ci
# /root/.npm on a RUN that runs no npm (an apt step) is not npm's
RUN --mount=type=cache,target=/root/.npm apt-get update

FROM deps AS moved
# npm reads its npm_config_* variables in any case
ENV NPM_CONFIG_CACHE=/var/cache/npm
RUN --mount=type=cache,target=/var/cache/npm npx --yes some-tool

FROM node:20-bookworm AS app
COPY --from=moved /app /app
# USER node: npm writes to /home/node/.npm, not /root/.npm
USER node
RUN --mount=type=cache,target=/root/.npm,uid=1000 npm ci
RUN --mount=type=cache,target=/home/node/.npm,uid=1000 npm ci
