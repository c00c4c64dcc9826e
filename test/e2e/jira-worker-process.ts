// The deployed jobs/worker entry in a process of its own, for the e2e test that kills it with
// SIGKILL mid-run. Its settings arrive as environment variables, as on DigitalOcean.
import { main } from '../../functions/jobs/worker/index.ts'

const BUDGET_MS = 600_000
const deadline = Date.now() + BUDGET_MS

main(
  {},
  {
    activationId: 'e2e-killed-worker',
    deadline,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  },
)
  .then((result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`)
  })
  .catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`)
    process.exitCode = 1
  })
