import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { build } from 'esbuild'
import { type Browser, chromium } from 'playwright-core'

// Support for tests in a real browser: Debian's Chromium driven by playwright-core, and a page
// server on an origin of its own that serves the typed client bundled for browsers.

const ROOT = join(import.meta.dirname, '..')

/** The Chromium binary: CHROMIUM_PATH, else Debian's. */
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

/**
 * Fails, saying how to install it, when Chromium is missing: a browser test never skips for that.
 * @throws {Error}
 */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The browser tests need Chromium, and ${CHROMIUM} does not exist. Install it with ` +
        '`sudo apt-get install -y chromium` (Debian and Ubuntu; .ci/run does this in CI), or set ' +
        'CHROMIUM_PATH to a Chromium or Chrome binary.',
    )
  }
}

/**
 * Starts headless Chromium.
 * @throws {Error} saying how to install it when it is missing
 */
export async function launchChromium(): Promise<Browser> {
  requireChromium()
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', // tests run as root in containers
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/** client/api.ts as one script for a page: it sets `globalThis.agentPm = { createApiClient }`. */
export async function bundleClient(): Promise<string> {
  const result = await build({
    stdin: {
      contents:
        "import { createApiClient } from './client/api.ts'\nglobalThis.agentPm = { createApiClient }\n",
      resolveDir: ROOT,
      sourcefile: 'page-client.ts',
      loader: 'ts',
    },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
  })
  return result.outputFiles[0]?.text ?? ''
}

/** A page server: `/` (an empty page loading the client), `/client.js`, and `/google-token`. */
export type PageServer = { port: number; close(): Promise<void> }

/**
 * Serves the page on 127.0.0.1 (`http://127.0.0.1:<port>` and `http://localhost:<port>` are two
 * origins of it). `POST /google-token` stands in for Google Identity Services: it hands the page a
 * credential minted by the sandbox's Google at `sandboxOrigin()`.
 */
export async function startPageServer(options: {
  script: string
  sandboxOrigin: () => string
}): Promise<PageServer> {
  const page =
    '<!doctype html><html><head><meta charset="utf-8"><title>agent-pm client</title>' +
    '<script src="/client.js"></script></head><body></body></html>'
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.method === 'GET' && req.url === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        res.end(page)
      } else if (req.method === 'GET' && req.url === '/client.js') {
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' })
        res.end(options.script)
      } else if (req.method === 'POST' && req.url === '/google-token') {
        const chunks: Buffer[] = []
        for await (const chunk of req) {
          chunks.push(chunk as Buffer)
        }
        const minted = await fetch(`${options.sandboxOrigin()}/sandbox/google-token`, {
          method: 'POST',
          body: Buffer.concat(chunks),
        })
        res.writeHead(minted.status, { 'content-type': 'application/json' })
        res.end(await minted.text())
      } else {
        res.writeHead(404)
        res.end()
      }
    })()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
