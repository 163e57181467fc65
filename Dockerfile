# One image for api, worker and migrate: Node 24 runs the TypeScript sources directly.
FROM node:24-slim
RUN npm i -g pnpm@12.4.2
WORKDIR /app
COPY . .
RUN pnpm install --frozen-lockfile --prod=false
# The storefront the API serves at / in production (apps/web/dist).
RUN node scripts/build-web.ts --force
ENV NODE_ENV=production
USER node
