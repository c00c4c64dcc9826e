// A stand-in for DigitalOcean's Node.js runtime: one process per action (a container), the
// action's code loaded the way the runtime loads a single plain file, and invocations run one at
// a time in it, warm. Init parameters (project.yml's `environment`) become the process
// environment; each run sets the runtime's `__OW_*` variables and passes a context.
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'

// The runtime evaluates plain code inside a function and takes `main` from its scope, else from
// what the code exported; a rejected promise becomes `{ error }`. The context's
// getRemainingTimeInMillis is a method here, reading `this`: code that calls it detached fails,
// which the platform's closure would forgive.
const RUNNER = `
const { createInterface } = require('node:readline');
const out = require('node:fs').createWriteStream(null, { fd: 3 });
const reply = (message) => out.write(JSON.stringify(message) + '\\n');
// Not named main: the evaluated code's 'return main' would find it.
let handler;
createInterface({ input: process.stdin }).on('line', async (line) => {
  const message = JSON.parse(line);
  if (message.init) {
    try {
      handler = eval('(function(){' + message.init.code + '\\ntry { return ' + message.init.main +
        ' } catch (e) { if (e.name === "ReferenceError") { return module.exports.' +
        message.init.main + ' || exports.' + message.init.main + ' } throw e }})()');
      reply(typeof handler === 'function' ? { ok: true } : { error: 'Function entrypoint is not a function.' });
    } catch (err) {
      reply({ error: String(err && err.stack || err) });
    }
    return;
  }
  const run = message.run;
  for (const [key, value] of Object.entries(run.env)) process.env[key] = value;
  const deadline = Number(run.env.__OW_DEADLINE);
  // Strict, so a detached call finds no this (sloppy code would read the global object).
  const context = (function () {
    'use strict';
    return {
      functionName: run.env.__OW_ACTION_NAME,
      functionVersion: run.env.__OW_ACTION_VERSION,
      activationId: run.env.__OW_ACTIVATION_ID,
      requestId: run.env.__OW_TRANSACTION_ID,
      namespace: run.env.__OW_NAMESPACE,
      apiHost: run.env.__OW_API_HOST,
      apiKey: '',
      deadline,
      getRemainingTimeInMillis() { return this.deadline - Date.now(); },
    };
  })();
  try {
    const result = await handler(run.value, context);
    reply({ result: result === undefined ? {} : result });
  } catch (err) {
    reply({ result: { error: { name: err && err.name, message: err && err.message } } });
  }
});
`

/** A started action: its container process, warm between invocations. */
export type RuntimeAction = {
  /** Runs `main(event, context)` with `timeoutMs` until the deadline; resolves to its result. */
  invoke(event: unknown, options?: { timeoutMs?: number }): Promise<Record<string, unknown>>
  /** Everything the function wrote to stdout and stderr (its activation logs). */
  logs: string[]
  close(): Promise<void>
}

/**
 * Starts a container for a plain-code action (`exec.binary` false) and initialises it.
 * @example const action = await startAction({ name: 'v1/health', code, env: { DATABASE_URL } })
 */
export async function startAction(options: {
  /** `package/function` */
  name: string
  code: string
  main?: string
  /** The init parameters, as the process environment. */
  env: Record<string, string>
  namespace?: string
  node?: string
}): Promise<RuntimeAction> {
  const namespace = options.namespace ?? 'fn-local'
  const child: ChildProcess = spawn(options.node ?? process.execPath, ['-e', RUNNER], {
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
  })
  const logs: string[] = []
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream as Readable }).on('line', (line) => logs.push(line))
  }
  const waiting: Array<(message: Record<string, unknown>) => void> = []
  createInterface({ input: child.stdio[3] as Readable }).on('line', (line) => {
    waiting.shift()?.(JSON.parse(line) as Record<string, unknown>)
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  const send = (message: unknown) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      waiting.push(resolve)
      void exited.then((code) =>
        reject(new Error(`${options.name}: the runtime exited (${code}): ${logs.join('\n')}`)),
      )
      ;(child.stdin as Writable).write(`${JSON.stringify(message)}\n`)
    })

  const init = await send({ init: { code: options.code, main: options.main ?? 'main' } })
  if (init.error) {
    child.kill()
    throw new Error(`${options.name} failed to initialise: ${String(init.error)}`)
  }
  let activations = 0
  return {
    logs,
    async invoke(event, invokeOptions = {}) {
      activations += 1
      const deadline = Date.now() + (invokeOptions.timeoutMs ?? 60_000)
      const env = {
        __OW_ACTION_NAME: `/${namespace}/${options.name}`,
        __OW_ACTION_VERSION: '0.0.1',
        __OW_ACTIVATION_ID: `${activations.toString(16).padStart(8, '0')}${'0'.repeat(24)}`,
        __OW_TRANSACTION_ID: `tx${activations}`,
        __OW_NAMESPACE: namespace,
        __OW_API_HOST: 'https://faas.example.invalid',
        __OW_DEADLINE: String(deadline),
      }
      const answer = await send({ run: { value: event, env } })
      return answer.result as Record<string, unknown>
    },
    async close() {
      if (child.exitCode === null) {
        child.kill()
        await exited
      }
    },
  }
}
