FROM node:20-bookworm AS base
RUN corepack enable
WORKDIR /app
COPY package.json yarn.lock .yarnrc.yml ./
# Yarn 4's global cache (enableGlobalCache is on by default): ~/.yarn/berry/cache
RUN --mount=type=cache,target=/root/.yarn/berry/cache yarn install --immutable
# Yarn 2 and 3 keep it in the project
RUN --mount=type=cache,target=/app/.yarn/cache yarn install --immutable
# the global folder moved
RUN --mount=type=cache,target=/srv/yarn/cache YARN_GLOBAL_FOLDER=/srv/yarn yarn install --immutable
# with the global cache off, YARN_CACHE_FOLDER is where the cache goes
RUN --mount=type=cache,target=/var/cache/yarn YARN_ENABLE_GLOBAL_CACHE=false YARN_CACHE_FOLDER=/var/cache/yarn yarn install --immutable
# a yarn cache directory on a RUN that runs no yarn (corepack prepare) is not yarn's
RUN --mount=type=cache,target=/root/.yarn/berry/cache corepack prepare yarn@4 --activate
