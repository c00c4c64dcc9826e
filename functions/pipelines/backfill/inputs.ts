import * as v from 'valibot'
import { MAX_PROJECT_KEY_LENGTH, PROJECT_KEY } from '#core/upstreams/jira/jql.ts'

// Fields both backfill starts accept (v1/backfill-jira, v1/backfill-tempo), from the JSON body or
// the query string, where every value arrives as text.

/** The most days a backfill reaches back. */
export const MAX_DAYS_BACK = 3650
/** The most project keys a request may name. */
export const MAX_PROJECTS = 100

/**
 * Days back, 1–3650: a JSON integer, or its digits in the query string (`days=30`, at most 5
 * digits, spaces around them ignored).
 */
export const DaysBack = v.pipe(
  v.union([v.number(), v.pipe(v.string(), v.trim(), v.regex(/^\d{1,5}$/), v.transform(Number))]),
  v.integer(),
  v.minValue(1),
  v.maxValue(MAX_DAYS_BACK),
)

/** A Jira project key (`^[A-Z][A-Z0-9_]*$`, at most 255 characters). */
export const ProjectKey = v.pipe(
  v.string(),
  v.maxLength(MAX_PROJECT_KEY_LENGTH),
  v.regex(PROJECT_KEY, 'Use a Jira project key.'),
)

/**
 * 1–100 project keys, each once (first occurrence kept): a JSON array, or a comma list in the
 * query string (`projects=OPS,WEB`).
 */
export const Projects = v.pipe(
  v.union([
    v.array(v.string()),
    v.pipe(
      v.string(),
      v.maxLength(MAX_PROJECTS * (MAX_PROJECT_KEY_LENGTH + 1)),
      v.transform((list) => list.split(',').map((key) => key.trim())),
    ),
  ]),
  v.minLength(1),
  v.maxLength(MAX_PROJECTS),
  v.array(ProjectKey),
  v.transform((keys) => [...new Set(keys)]),
)
