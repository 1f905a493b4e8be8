# syntax=docker/dockerfile:1
# smsgw: one image for every role (`smsgw api|dispatcher|worker|webhooks|carrier-sim|migrate|...`).
# Build: docker build -t smsgw .   Run: docker run --rm smsgw --help
# (Not built in this repository's CI: no Docker engine there; see docs/operations.md#deployment.)

ARG NODE_IMAGE=node:20-bookworm-slim

# 1. Build: all dependencies (TypeScript), compile src/ to dist/.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are copied.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

# 2. Runtime: production dependencies and the compiled build only, as a non-root user.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    SMSGW_DATA_DIR=/tmp/smsgw
WORKDIR /app
COPY package.json package-lock.json ./
# No dependency of the runtime needs an install script; `prepare` (the build) needs dev dependencies.
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY bin ./bin
COPY --from=build /app/dist ./dist
# The image's `node` user (uid 1000), numeric so Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE 3000
# Every serving role answers /health/live on PORT (carrier-sim and migrate do not serve it: their
# compose services and Kubernetes objects turn the check off or use their own).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# V8 flags: src/cli/node-flags.ts.
ENTRYPOINT ["node", "--max-semi-space-size=64", "bin/smsgw.js"]
CMD ["start"]
