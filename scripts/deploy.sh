#!/usr/bin/env bash
# Settings check → build → migrations → deploy. doctl fills ${NAME} in project.yml from the
# environment or .env (which is never uploaded).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v doctl >/dev/null || { echo "doctl is not installed (https://docs.digitalocean.com/reference/doctl/)"; exit 1; }
npx tsx scripts/check-settings.ts
npm run build
npm run db:migrate
doctl serverless deploy .
