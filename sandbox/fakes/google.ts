import { randomBytes } from 'node:crypto'
import {
  base64url,
  type CryptoKey,
  exportJWK,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  importPKCS8,
  type JWK,
  type KeyInput,
  SignJWT,
} from 'jose'
import { type FakeServer, startFakeServer } from './server.ts'

/** The claims of a Google ID token that sign-in reads (names as on the wire). */
export type GoogleClaims = {
  iss: string
  aud: string | string[]
  azp: string
  sub: string
  email: string
  email_verified: boolean
  /** Workspace domain; absent for consumer accounts */
  hd: string
  name: string
  /** seconds since the epoch */
  iat: number
  /** seconds since the epoch */
  exp: number
  nbf?: number
  nonce?: string
  picture?: string
}

/** Claim overrides: a value replaces the default, `undefined` removes the claim. */
export type ClaimOverrides = { [K in keyof GoogleClaims]?: GoogleClaims[K] | undefined }

/** Header and key overrides for `mintIdToken`. */
export type MintOptions = {
  /** header `alg` (default RS256); another RS/PS alg re-imports the current key for it; `none` leaves the token unsigned */
  alg?: string
  /** header `kid` (default the current key's); `undefined` removes it */
  kid?: string | undefined
  /** signs with this key instead of the current private key */
  key?: KeyInput
  /** extra protected-header parameters, e.g. `{ typ: 'at+jwt' }` or `{ jku: '…' }` */
  header?: Record<string, unknown>
}

/** Options for `startFakeGoogle`. */
export type FakeGoogleOptions = {
  /** the OAuth client id minted tokens are for (default `fake-client-id.apps.googleusercontent.com`) */
  clientId?: string
  port?: number
}

/** A running fake of Google's JWKS endpoint with a token factory for its keys. */
export type FakeGoogle = FakeServer & {
  /** `GET` here for `{ keys: [...] }`, as `https://www.googleapis.com/oauth2/v3/certs` */
  jwksUrl: string
  clientId: string
  /** A valid RS256 ID token for `clientId`, signed with the current key, unless overridden. */
  mintIdToken(claims?: ClaimOverrides, options?: MintOptions): Promise<string>
  /** The same claims, unsigned, with header `alg: none` and an empty signature. */
  mintWithAlgNone(claims?: ClaimOverrides): Promise<string>
  /** HS256 keyed with the public key's SPKI PEM (default) or JWK JSON, with the current `kid`: alg confusion. */
  mintHs256WithPublicKey(claims?: ClaimOverrides, secretForm?: 'pem' | 'jwk'): Promise<string>
  /** Signed by a key the JWKS never served, under a `kid` it never served. */
  mintWithUnknownKid(claims?: ClaimOverrides): Promise<string>
  /** Rewrites payload claims (default: another `email` and `sub`) and keeps the original signature. */
  tamper(token: string, patch?: Record<string, unknown>): string
  /** New current key; the old one is retired from the JWKS unless `keepPrevious`. Returns the new `kid`. */
  rotateKey(options?: { keepPrevious?: boolean }): Promise<string>
  currentKid(): string
  /** The current public key as SPKI PEM. */
  publicKeyPem(): Promise<string>
  /** Serve exactly these keys (e.g. `[]`, or a key without `kid`); `undefined` serves the real ones again. */
  setKeys(keys: JWK[] | undefined): void
  /** Pins `iat`/`exp` defaults to this time; `undefined` returns to the wall clock. */
  setNow(date: Date | undefined): void
}

type SigningKey = { kid: string; privateKey: CryptoKey; publicKey: CryptoKey; jwk: JWK }

const ISSUER = 'https://accounts.google.com'

async function newSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
  // Google's kids are 40 hex characters.
  const kid = randomBytes(20).toString('hex')
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }
  return { kid, privateKey, publicKey, jwk }
}

function encodeSegment(value: unknown): string {
  return base64url.encode(JSON.stringify(value))
}

/**
 * Starts a fake Google JWKS on 127.0.0.1 with one fresh RS256 key. Tokens take `iat` from the wall
 * clock by default, because jose verifies against the real clock unless given `currentDate`.
 * @example const google = await startFakeGoogle(); const token = await google.mintIdToken({ hd: undefined })
 */
export async function startFakeGoogle(options: FakeGoogleOptions = {}): Promise<FakeGoogle> {
  const clientId = options.clientId ?? 'fake-client-id.apps.googleusercontent.com'
  let current = await newSigningKey()
  let served: SigningKey[] = [current]
  let override: JWK[] | undefined
  let pinnedNow: Date | undefined
  let stranger: SigningKey | undefined // the unknown-kid key, made on first use

  const server = await startFakeServer((req) => {
    if (req.method === 'GET' && req.path === '/oauth2/v3/certs') {
      const keys = override ?? served.map((key) => key.jwk)
      // Google sends caching headers; jose ignores them (cooldown and cacheMaxAge decide).
      return {
        status: 200,
        headers: { 'cache-control': 'public, max-age=21600, must-revalidate' },
        body: { keys },
      }
    }
    return { status: 404, body: { error: 'not_found' } }
  }, options.port)

  // An override of `undefined` removes the claim: JSON.stringify drops undefined members.
  function claims(overrides: ClaimOverrides = {}): Record<string, unknown> {
    const iat = Math.floor((pinnedNow ?? new Date()).getTime() / 1000)
    return {
      iss: ISSUER,
      azp: clientId,
      aud: clientId,
      sub: '110169484474386276334',
      hd: 'example.com',
      email: 'ada@example.com',
      email_verified: true,
      name: 'Ada Lovelace',
      iat,
      exp: iat + 3600,
      ...overrides,
    }
  }

  async function signingKeyFor(alg: string): Promise<KeyInput> {
    if (alg === 'RS256') {
      return current.privateKey
    }
    if (/^(RS|PS)(256|384|512)$/.test(alg)) {
      return importPKCS8(await exportPKCS8(current.privateKey), alg)
    }
    throw new Error(`fake Google needs options.key to sign with ${alg}`)
  }

  async function mintIdToken(overrides?: ClaimOverrides, mint: MintOptions = {}): Promise<string> {
    const alg = mint.alg ?? 'RS256'
    // A `kid: undefined` stays in the object and, like claims, vanishes when serialised.
    const kid = 'kid' in mint ? mint.kid : current.kid
    const header: Record<string, unknown> = { alg, kid, typ: 'JWT', ...mint.header }
    const payload = claims(overrides)
    if (alg === 'none') {
      return `${encodeSegment(header)}.${encodeSegment(payload)}.`
    }
    return new SignJWT(payload)
      .setProtectedHeader({ ...header, alg })
      .sign(mint.key ?? (await signingKeyFor(alg)))
  }

  return {
    ...server,
    jwksUrl: `${server.url}/oauth2/v3/certs`,
    clientId,
    mintIdToken,
    mintWithAlgNone(overrides) {
      return mintIdToken(overrides, { alg: 'none' })
    },
    async mintHs256WithPublicKey(overrides, secretForm = 'pem') {
      const secret =
        secretForm === 'pem' ? await exportSPKI(current.publicKey) : JSON.stringify(current.jwk)
      return mintIdToken(overrides, { alg: 'HS256', key: new TextEncoder().encode(secret) })
    },
    async mintWithUnknownKid(overrides) {
      stranger ??= await newSigningKey()
      return mintIdToken(overrides, { kid: stranger.kid, key: stranger.privateKey })
    },
    tamper(token, patch = { email: 'mallory@evil.example', sub: '999999999999999999999' }) {
      const [header, payload, signature] = token.split('.')
      if (header === undefined || payload === undefined || signature === undefined) {
        throw new Error('tamper expects a compact JWS')
      }
      const decoded = JSON.parse(new TextDecoder().decode(base64url.decode(payload))) as object
      return `${header}.${encodeSegment({ ...decoded, ...patch })}.${signature}`
    },
    async rotateKey(rotate = {}) {
      current = await newSigningKey()
      served = rotate.keepPrevious ? [...served, current] : [current]
      return current.kid
    },
    currentKid() {
      return current.kid
    },
    publicKeyPem() {
      return exportSPKI(current.publicKey)
    },
    setKeys(keys) {
      override = keys?.map((key) => ({ ...key }))
    },
    setNow(date) {
      pinnedNow = date
    },
  }
}
