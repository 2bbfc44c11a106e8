# Cairn node image. Build: docker build -t cairn:latest .
# Run one node:  docker run -e CAIRN_NODE_ID=node-1 -p 8080:8080 cairn:latest --config configs/cluster.docker.yaml
# The three-node cluster behind nginx: docker compose -f docker-compose.cluster.yml up
#
# Stage 1 compiles the native SQLite module (better-sqlite3) from source against this Node
# version; stage 2 is the runtime without compilers, running as the unprivileged user `cairn`.
# Sources are TypeScript run through tsx (no build step), so the runtime keeps tsx.

ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# Compile native modules here instead of downloading prebuilt binaries, against the headers
# that ship with the node image.
ENV npm_config_build_from_source=true \
    npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
# The workspaces (packages/*) before `npm ci`: it links them into node_modules.
COPY packages ./packages
# All dependencies: tsx, which runs the sources, is a devDependency.
RUN npm ci --no-audit --no-fund \
 && node -e "require('better-sqlite3')(':memory:').prepare('select sqlite_version() v').get()" \
 && npm cache clean --force
COPY bin ./bin
COPY configs ./configs
COPY tsconfig.base.json tsconfig.json ./

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    CAIRN_CONTAINER=1
WORKDIR /app
RUN groupadd --system cairn \
 && useradd --system --gid cairn --home-dir /app --no-create-home --shell /usr/sbin/nologin cairn \
 && mkdir -p /app/data \
 && chown cairn:cairn /app/data
COPY --from=build /app /app
USER cairn
# Each node's data lives under /app/data/<node id>; mount a volume there.
VOLUME ["/app/data"]
EXPOSE 8080
# 200 when the node serves and is in sync with the leader, 503 otherwise.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.CAIRN_SERVER_PORT || 8080) + '/_raft/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/cairn.mjs", "serve"]
CMD ["--config", "configs/cluster.docker.yaml"]
