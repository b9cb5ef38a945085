# kvflow's images, one per service, from the repository root:
#   docker build --target producer --build-arg SERVICE=producer -t REPO/kvflow-producer:TAG .
#   docker build --target consumer --build-arg SERVICE=consumer -t REPO/kvflow-consumer:TAG .
# (scripts/build-images.sh does both). Stage "manifests" holds what npm install reads; "build" compiles TypeScript;
# "runtime" holds the service's production dependencies and compiled JavaScript only; the last two stages only add
# what differs: the port and the command.
# The command cannot come from SERVICE: an exec-form CMD expands no variables, and the consumer's Node flags
# (common/src/service/node-flags.ts) must be on node's command line (node refuses --no-maglev in NODE_OPTIONS).
FROM node:24-bookworm-slim AS manifests
WORKDIR /app
COPY package.json package-lock.json ./
# Every workspace's manifest: npm resolves the workspace list from the root package.json.
COPY common/package.json common/
COPY autoscale/package.json autoscale/
COPY producer/package.json producer/
COPY consumer/package.json consumer/
COPY cli/package.json cli/
COPY stack/package.json stack/
COPY testkit/package.json testkit/
COPY demo/package.json demo/
COPY dashboards/package.json dashboards/
COPY bench/package.json bench/

FROM manifests AS build
ARG SERVICE
COPY tsconfig.json ./
RUN npm install --no-audit --no-fund
COPY common/ common/
COPY ${SERVICE}/ ${SERVICE}/
RUN npx tsc -b ${SERVICE}

FROM manifests AS runtime
ARG SERVICE
ENV NODE_ENV=production
RUN npm install --omit=dev --no-audit --no-fund --workspace=@kvflow/${SERVICE} && npm cache clean --force
COPY --from=build /app/common/dist common/dist
COPY --from=build /app/${SERVICE}/dist ${SERVICE}/dist
# The image's "node" user (uid 1000), matching the chart's securityContext; the root filesystem can be read-only.
USER node

# node is PID 1 and handles SIGTERM itself (drains, then exits).
FROM runtime AS producer
EXPOSE 8080
CMD ["node", "producer/dist/main.js"]

FROM runtime AS consumer
EXPOSE 9091
CMD ["node", "--max-semi-space-size=8", "--no-maglev", "consumer/dist/main.js"]
