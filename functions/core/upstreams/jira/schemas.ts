import * as v from 'valibot'

/**
 * Jira Cloud REST v3 response shapes, as far as we read them. Each field we use is tolerant on its
 * own (`v.fallback`): a field of an unexpected shape reads as absent instead of failing the page,
 * because one odd issue must not stop a backfill. Only `id` and `key` are required.
 */

// A field that may be absent, null or of a shape we do not know: all read as `undefined`.
function tolerant<S extends v.GenericSchema>(schema: S) {
  return v.fallback(v.optional(v.nullable(schema)), undefined)
}

const Named = v.looseObject({ name: tolerant(v.string()) })

/** A Jira user as embedded in an issue or returned by `user/bulk`. */
const User = v.looseObject({
  accountId: tolerant(v.string()),
  displayName: tolerant(v.string()),
  emailAddress: tolerant(v.string()),
})

const Parent = v.looseObject({
  id: tolerant(v.string()),
  key: v.string(),
  fields: tolerant(v.looseObject({ summary: tolerant(v.string()), issuetype: tolerant(Named) })),
})

/** The fields the pipelines request; anything else Jira sends is kept as unknown values. */
const IssueFields = v.looseObject({
  summary: tolerant(v.string()),
  // A string (API v2, some apps) or an ADF document (v3): flattened by adf.ts either way.
  description: v.optional(v.unknown()),
  status: tolerant(Named),
  priority: tolerant(Named),
  issuetype: tolerant(Named),
  assignee: tolerant(User),
  reporter: tolerant(User),
  project: tolerant(
    v.looseObject({ id: tolerant(v.string()), key: v.string(), name: tolerant(v.string()) }),
  ),
  created: tolerant(v.string()),
  updated: tolerant(v.string()),
  labels: tolerant(v.array(v.string())),
  parent: tolerant(Parent),
})

/** An issue of `search/jql`: string `id`, `key` and the requested `fields`. */
export const JiraIssueSchema = v.looseObject({
  id: v.string(),
  key: v.string(),
  fields: v.fallback(v.optional(IssueFields), undefined),
})

/** An issue as our code reads it. */
export type JiraIssue = v.InferOutput<typeof JiraIssueSchema>

/** The fields of an issue as our code reads them. */
export type JiraIssueFields = NonNullable<JiraIssue['fields']>

/** `GET|POST /rest/api/3/search/jql`: no totals; the last page has `isLast` and no token. */
export const SearchPageSchema = v.looseObject({
  issues: v.array(JiraIssueSchema),
  nextPageToken: tolerant(v.string()),
  isLast: v.optional(v.boolean()),
})

/** Jira's offset-paged list (users, projects). */
export function pageBeanSchema<S extends v.GenericSchema>(item: S) {
  return v.looseObject({
    values: v.array(item),
    isLast: v.optional(v.boolean()),
    total: v.optional(v.number()),
  })
}

/** A project of `project/search`. */
export const ProjectSchema = v.looseObject({
  id: v.string(),
  key: v.string(),
  name: v.optional(v.string(), ''),
  /** with `expand=projectKeys`: every key the project was ever known by, the current one too */
  projectKeys: v.fallback(v.optional(v.array(v.string())), undefined),
})

/** A user of `user/bulk`. */
export const BulkUserSchema = v.looseObject({
  accountId: v.string(),
  displayName: v.optional(v.string(), ''),
  emailAddress: tolerant(v.string()),
})

/** Jira's error body: `{ errorMessages: [...], errors: { field: message } }`. */
export const ErrorBodySchema = v.looseObject({
  errorMessages: v.optional(v.array(v.string()), []),
  errors: v.optional(v.record(v.string(), v.string()), {}),
})
