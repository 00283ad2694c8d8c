# pnpm's documented Dockerfile (pnpm.io/docker): PNPM_HOME=/pnpm, the store a cache mount
FROM node:20-slim AS base
ENV PNPM_HOME="/pnpm"
ENV PATH="$PNPM_HOME:$PATH"
RUN corepack enable
COPY . /app
WORKDIR /app

FROM base AS prod-deps
RUN --mount=type=cache,id=pnpm,target=/pnpm/store pnpm install --prod --frozen-lockfile

FROM base AS build
RUN --mount=type=cache,id=pnpm,target=/pnpm/store pnpm install --frozen-lockfile
RUN pnpm run build
# the store's mount on a RUN that runs no pnpm (npm ci) is not pnpm's
RUN --mount=type=cache,target=/pnpm/store npm ci
# a mount at PNPM_HOME itself: pnpm cannot hard-link into another filesystem from /app,
# so it puts its store at /.pnpm-store instead, and the mount holds nothing of it
RUN --mount=type=cache,target=/pnpm pnpm install --frozen-lockfile

FROM base
COPY --from=prod-deps /app/node_modules /app/node_modules
COPY --from=build /app/dist /app/dist
EXPOSE 8000
CMD [ "pnpm", "start" ]
