# syntax=docker/dockerfile:1
# assistant-server on Node. Build: docker build -t assistant-server .
# Run:   docker run -p 8080:8080 -e API_KEYS=alice:<key of 16+ chars> assistant-server
# Settings are environment variables (README, "Configuration"); config/default.yaml is baked in.
ARG NODE_VERSION=24

# --- build: all dependencies, then the server bundle (dist/node.js, node_modules left external) and
# the widget bundle (public/assets/, generated from widget/src and git-ignored) ---
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY widget ./widget
COPY public ./public
RUN npm run build

# --- runtime: production dependencies only, unprivileged user ---
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/public ./public
COPY config ./config
# The official image's unprivileged user (uid 1000); the app writes nothing to disk.
USER node
EXPOSE 8080
# The slim image has no curl: Node's own fetch probes /health (503 when a dependency is down).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM from `docker stop` goes straight to Node (no shell in between), which drains and exits 0.
CMD ["node", "dist/node.js"]
