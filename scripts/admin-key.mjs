// Prints a new random admin key and its SHA-256. The key goes to the caller (a script, a secret
// store); only the digest goes into ADMIN_API_KEY_SHA256 (comma-separated, several during a
// rotation). `--json` prints {"key","sha256"} for scripts.
import { createHash, randomBytes } from 'node:crypto'

const key = `apm_${randomBytes(32).toString('base64url')}`
const sha256 = createHash('sha256').update(key, 'utf8').digest('hex')

if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ key, sha256 }))
} else {
  console.log(`X-Admin-Key (give to the caller; keep it in a secret store): ${key}`)
  console.log(`ADMIN_API_KEY_SHA256 (append to the comma list):           ${sha256}`)
}
