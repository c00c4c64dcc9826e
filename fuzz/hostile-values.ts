// Hostile values the mutations draw from: broken bodies, odd content types and headers, and the
// credential kinds a guarded route must refuse.
import fc from 'fast-check'
import type { CredentialKind } from './plans.ts'

const encoder = new TextEncoder()
const bytes = (text: string) => encoder.encode(text)

const INVALID_UTF8: readonly number[][] = [
  [0xff, 0xfe],
  [0xc0, 0xaf], // overlong '/'
  [0xed, 0xa0, 0x80], // a UTF-16 surrogate in UTF-8
  [0xe2, 0x82], // truncated
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0x80],
]

// Raw bodies that are not (good) JSON.
export const brokenBody: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc
    .constantFrom(
      '{',
      '{"credential":',
      "{'days': 1}",
      'NaN',
      '{"days": 1}x',
      '\uFEFF{"days": 1}',
      '{"days": 1, "days": 2}',
      '{"__proto__": {"admin": true}}',
      '{"constructor": {"prototype": {"admin": true}}}',
      '[1,2,',
      '"\\ud800"',
      '{"a": "\\u0000"}',
      '1e999999',
      '-',
      'null',
      'true',
      '   ',
    )
    .map(bytes),
  fc
    .tuple(fc.constantFrom(...INVALID_UTF8), fc.constantFrom('{"days": "', '{"credential": "', '"'))
    .map(([bad, head]) => Uint8Array.from([...bytes(head), ...bad, ...bytes('"}')])),
  fc.uint8Array({ maxLength: 64 }),
  fc.string({ unit: 'binary', maxLength: 64 }).map(bytes),
)

export const ODD_CONTENT_TYPES = [
  undefined,
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=utf-16',
  'APPLICATION/JSON',
  'application/json;',
  'application/jsonx',
  'application/vnd.api+json',
  'application/octet-stream',
  'image/png',
  'json',
  '',
  ';;;',
] as const

/**
 * Credentials that verify as nobody: a request carrying only one of them may use nothing but the
 * anonymous routes. (A valid admin key beside a forged token still names its admin.)
 */
export const BAD_CREDENTIALS: readonly CredentialKind[] = [
  'none',
  'expired-token',
  'forged-token',
  'wrong-alg-token',
  'wrong-key',
  'garbage-bearer',
]

/** The credentials the fuzzer swaps in: those that verify as nobody, and some that name a non-admin. */
export const BAD_CREDENTIAL_KINDS: readonly CredentialKind[] = [
  ...BAD_CREDENTIALS,
  'admin-key-beside-forged-token',
  'member-token',
  'pending-token',
  'monitor-token',
]

export const ODD_HEADERS: readonly Record<string, string>[] = [
  { authorization: 'Bearer' },
  { authorization: 'Bearer ' },
  { authorization: 'bearer  a.b.c' },
  { authorization: 'Basic YWRtaW46YWRtaW4=' },
  { authorization: `Bearer ${'x'.repeat(8000)}` },
  { 'x-admin-key': '' },
  { 'x-admin-key': 'x'.repeat(4096) },
  { 'x-monitor-token': 'nope' },
  { 'x-request-id': 'short' },
  { 'x-request-id': 'x'.repeat(300) },
  { 'x-request-id': 'ok-but-with spaces-and-more' },
  { 'x-forwarded-for': 'unknown' },
  { 'x-forwarded-for': '1.2.3.4, 5.6.7.8' },
  { 'x-forwarded-for': '::1' },
  { 'x-forwarded-for': ', , ,' },
  { origin: 'null' },
  { origin: 'https://evil.example' },
  { accept: 'text/html' },
  { accept: '*/*;q=0' },
  { 'content-length': '0' },
  { 'transfer-encoding': 'chunked' },
  { 'x-http-method-override': 'DELETE' },
  { cookie: 'session=1' },
  { 'user-agent': '\u00ff\u00fe' },
  { 'x-huge': 'a'.repeat(12_000) },
]
