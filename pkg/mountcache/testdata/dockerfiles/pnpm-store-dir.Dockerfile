FROM node:20-bookworm AS deps
WORKDIR /app
COPY package.json pnpm-lock.yaml ./
# pnpm's default for root: ~/.local/share/pnpm/store (v10 under it)
RUN --mount=type=cache,target=/root/.local/share/pnpm/store pnpm install --frozen-lockfile
# the versioned store itself
RUN --mount=type=cache,target=/root/.local/share/pnpm/store/v10 pnpm install --frozen-lockfile
# --store-dir on the command line, and a parent of it
RUN --mount=type=cache,target=/cache/pnpm pnpm install --frozen-lockfile --store-dir /cache/pnpm
RUN --mount=type=cache,target=/cache pnpm install --frozen-lockfile --store-dir=/cache/pnpm
# pnpm fetch, then an offline install from the same store
RUN --mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store pnpm fetch
RUN --mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store pnpm install --offline --frozen-lockfile
# pnpm 6 and older: ~/.pnpm-store
RUN --mount=type=cache,target=/root/.pnpm-store pnpm install --frozen-lockfile
# /root/.cache holds pnpm's metadata cache, not its store: not carried as pnpm's
RUN --mount=type=cache,target=/root/.cache pnpm install --frozen-lockfile

FROM deps AS moved
ENV npm_config_store_dir=/var/cache/pnpm-store
RUN --mount=type=cache,target=/var/cache/pnpm-store pnpm install --frozen-lockfile
ENV XDG_DATA_HOME=/data
RUN --mount=type=cache,target=/var/cache/pnpm-store pnpm install --frozen-lockfile

FROM node:20-bookworm AS app
COPY --from=moved /app /home/node/app
USER node
WORKDIR /home/node/app
RUN --mount=type=cache,target=/home/node/.local/share/pnpm/store,uid=1000 pnpm install --frozen-lockfile
# run as node, pnpm does not use root's store
RUN --mount=type=cache,target=/root/.local/share/pnpm/store,uid=1000 pnpm install --frozen-lockfile
