FROM node:20-bookworm AS deps
WORKDIR /app
COPY package.json yarn.lock ./
# yarn 1 run as root keeps its cache under /usr/local/share, whatever $HOME says
RUN --mount=type=cache,target=/usr/local/share/.cache/yarn yarn install --frozen-lockfile
# so root's ~/.cache/yarn is never written by yarn 1: not carried
RUN --mount=type=cache,target=/root/.cache/yarn yarn install --frozen-lockfile
# --cache-folder on the command line
RUN --mount=type=cache,target=/tmp/yarn-cache yarn install --frozen-lockfile --cache-folder /tmp/yarn-cache
# YARN_CACHE_FOLDER set for the command
RUN --mount=type=cache,target=/root/.yarn YARN_CACHE_FOLDER=/root/.yarn yarnpkg install --frozen-lockfile
# yarn 1's versioned directory under its cache root
RUN --mount=type=cache,target=/usr/local/share/.cache/yarn/v6 yarn install
# the cache directory on a RUN that runs npm, not yarn: not yarn's
RUN --mount=type=cache,target=/usr/local/share/.cache/yarn npm ci
# node_modules is the install, not the cache
RUN --mount=type=cache,target=/app/node_modules yarn install

FROM node:20-bookworm AS moved
COPY --from=deps /app /app
WORKDIR /app
ENV XDG_CACHE_HOME=/var/cache
RUN --mount=type=cache,target=/var/cache/yarn yarn install --frozen-lockfile
# a parent of the cache directory holds it when the RUN runs yarn
RUN --mount=type=cache,target=/var/cache yarn install --frozen-lockfile

FROM node:20-bookworm AS app
COPY --from=moved /app /home/node/app
USER node
WORKDIR /home/node/app
RUN --mount=type=cache,target=/home/node/.cache/yarn,uid=1000 yarn install --frozen-lockfile
# run as node, yarn 1 no longer uses root's /usr/local/share
RUN --mount=type=cache,target=/usr/local/share/.cache/yarn,uid=1000 yarn install --frozen-lockfile
