# The Sluice consumer with the CUDA backend: the image infra/k8s/deployment.yaml runs (SLUICE_DEVICE=cuda).
# Build context is the repository root: docker build -f infra/docker/consumer-cuda.Dockerfile -t sluice-consumer:cuda .
# consumer.Dockerfile (node:20, CPU backend only) stays the image of the docker-compose demo.
ARG CUDA_VERSION=13.0.0
ARG NODE_IMAGE=node:20-bookworm-slim

# Node comes from the official image: its binary runs on the CUDA images' Ubuntu (glibc 2.39).
FROM ${NODE_IMAGE} AS node

# Build stage: the CUDA devel image has nvcc, the runtime headers and cuBLAS.
FROM nvidia/cuda:${CUDA_VERSION}-devel-ubuntu24.04 AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake g++ make ninja-build python3 git ca-certificates \
  && rm -rf /var/lib/apt/lists/*
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
WORKDIR /sluice
COPY . .
# A build folder copied from the host was configured elsewhere (and maybe without CUDA): never reuse it.
RUN rm -rf libs/cuda-kernels/build && npm ci --no-audit --no-fund
# SLUICE_CUDA=1: the build fails if it cannot link the CUDA backend, rather than shipping a CPU-only image.
# Ampere (sm_80) and Hopper (sm_90); override with --build-arg SLUICE_CUDA_ARCHS=...
ARG SLUICE_CUDA_ARCHS="80;90"
RUN SLUICE_CUDA=1 SLUICE_CUDA_ARCHS="${SLUICE_CUDA_ARCHS}" npm run setup -w @sluice/cuda-kernels \
  && npm run setup --if-present -w @sluice/engine -w @sluice/consumer
RUN NX_DAEMON=false npx nx run @sluice/consumer:build

# Final stage: the CUDA runtime image carries libcudart and cuBLAS, no compiler.
FROM nvidia/cuda:${CUDA_VERSION}-runtime-ubuntu24.04
COPY --from=node /usr/local/bin/node /usr/local/bin/node
RUN groupadd --gid 1000 sluice && useradd --uid 1000 --gid sluice --create-home sluice
WORKDIR /sluice
COPY --from=build --chown=sluice:sluice /sluice /sluice
ENV NODE_ENV=production SLUICE_DEVICE=cuda NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER sluice
# The addon must load with its CUDA backend here (the GPU itself is only there at run time).
RUN node -e "if (!require('./libs/cuda-kernels/build/Release/sluice_kernels.node').cudaBuilt) process.exit(1)"
# node itself is PID 1, so SIGTERM reaches the worker directly and starts its drain.
CMD ["node", "apps/consumer/dist/main.js"]
