# The Sluice consumer (apps/consumer) built from the monorepo; used by infra/docker-compose.yml.
# Build context is the repository root: docker build -f infra/docker/consumer.Dockerfile .
FROM node:20-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential python3 && rm -rf /var/lib/apt/lists/*
WORKDIR /sluice
COPY . .
RUN npm ci --no-audit --no-fund
# Only the setups the consumer needs (native op set, models): infra's service jars belong to the compose services.
RUN npm run setup --if-present -w @sluice/cuda-kernels -w @sluice/engine -w @sluice/consumer
RUN NX_DAEMON=false npx nx run @sluice/consumer:build

FROM node:20-bookworm-slim
WORKDIR /sluice
COPY --from=build --chown=node:node /sluice /sluice
ENV NODE_ENV=production
USER node
# node itself is PID 1, so SIGTERM reaches the worker directly and starts its drain.
CMD ["node", "apps/consumer/dist/main.js"]
