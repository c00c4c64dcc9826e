import type pg from 'pg'

// How the functions and the migrator connect to PostgreSQL: shared by functions/core/db and
// db/migrate.ts, so the database folder imports nothing from functions/.

/** A PEM as doctl's ${VAR} substitution delivers it: plain, with literal \\n, or base64. */
export function decodePem(raw: string): string {
  const text = raw.includes('BEGIN') ? raw : Buffer.from(raw, 'base64').toString('utf8')
  return text.replaceAll('\\n', '\n')
}

// URL parameters that would replace the `ssl` object (pg lets the URL win over the config).
const SSL_PARAMETERS = ['ssl', 'sslmode', 'sslcert', 'sslkey', 'sslrootcert', 'uselibpqcompat']

/**
 * pg's connection settings. With a CA certificate, TLS is verified against it: the URL's own
 * `sslmode=…` (which DigitalOcean's connection strings carry) is dropped, since pg would otherwise
 * let it replace the certificate and fail to trust the managed cluster.
 */
export function connectionConfig(options: {
  url: string
  caCert: string | undefined
}): pg.ClientConfig {
  if (!options.caCert) {
    return { connectionString: options.url }
  }
  const url = new URL(options.url)
  for (const name of SSL_PARAMETERS) {
    url.searchParams.delete(name)
  }
  return { connectionString: url.toString(), ssl: { ca: options.caCert, rejectUnauthorized: true } }
}
