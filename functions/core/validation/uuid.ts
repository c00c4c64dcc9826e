const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Whether `text` is a UUID (any version, either case): ids that may reach a `uuid` column. */
export function isUuid(text: string): boolean {
  return UUID.test(text)
}
