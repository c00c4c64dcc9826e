import { sql } from 'drizzle-orm'
import {
  bigint,
  boolean,
  check,
  date,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core'

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
}

/** People who sign in with Google. Keyed by Google `sub`; pre-provisioned rows have none yet. */
export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    googleSub: text('google_sub').unique(),
    email: text('email').notNull(),
    name: text('name').notNull().default(''),
    role: text('role', { enum: ['no_access', 'member', 'admin'] })
      .notNull()
      .default('no_access'),
    isActive: boolean('is_active').notNull().default(true),
    // Bumped by "sign out everywhere": tokens carry it as `ver` and older ones stop working.
    tokenVersion: integer('token_version').notNull().default(0),
    lastLoginAt: timestamp('last_login_at', { withTimezone: true }),
    ...timestamps,
  },
  (table) => [
    uniqueIndex('users_email_lower_key').on(sql`lower(${table.email})`),
    check('users_role_check', sql`${table.role} in ('no_access', 'member', 'admin')`),
  ],
)

/** Jira projects the backfills and syncs cover when a request names none. */
export const projects = pgTable(
  'projects',
  {
    key: text('key').primaryKey(),
    name: text('name').notNull().default(''),
    jiraId: text('jira_id'),
    isActive: boolean('is_active').notNull().default(true),
    ...timestamps,
  },
  (table) => [check('projects_key_check', sql`${table.key} ~ '^[A-Z][A-Z0-9_]*$'`)],
)

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const
export const CHUNK_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const

/**
 * A backfill or sync request. `status` is kept in step with its chunks by the queue
 * (functions/core/jobs/queue.ts): `queued` until a chunk is claimed, `running` while any chunk is
 * open, then `succeeded`, `failed` (a chunk failed) or `cancelled` (a chunk was cancelled).
 */
export const jobs = pgTable(
  'jobs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    kind: text('kind').notNull(),
    status: text('status', { enum: JOB_STATUSES }).notNull().default('queued'),
    params: jsonb('params').notNull().default({}),
    // Two active jobs may not share a dedupe key (partial unique index below).
    dedupeKey: text('dedupe_key'),
    // One job per time slot, whatever its state (e.g. `daily:sync-jira:2026-06-01`).
    runKey: text('run_key'),
    createdBy: text('created_by').notNull(),
    cancelRequestedAt: timestamp('cancel_requested_at', { withTimezone: true }),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    ...timestamps,
  },
  (table) => [
    uniqueIndex('jobs_active_dedupe_key')
      .on(table.dedupeKey)
      .where(sql`${table.status} in ('queued', 'running')`),
    uniqueIndex('jobs_run_key').on(table.runKey),
    index('jobs_kind_created_idx').on(table.kind, table.createdAt),
    index('jobs_status_finished_idx').on(table.status, table.finishedAt),
    check(
      'jobs_status_check',
      sql`${table.status} in ('queued', 'running', 'succeeded', 'failed', 'cancelled')`,
    ),
  ],
)

/** One unit of a job a worker claims: a Jira project, or a Tempo date window. */
export const jobChunks = pgTable(
  'job_chunks',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    jobId: uuid('job_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    scope: jsonb('scope').notNull(),
    status: text('status', { enum: CHUNK_STATUSES }).notNull().default('queued'),
    cursor: jsonb('cursor'),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull().default(8),
    // 0 first: daily syncs (small) are claimed before backfill chunks due at the same time.
    priority: smallint('priority').notNull().default(1),
    runAfter: timestamp('run_after', { withTimezone: true }).notNull().defaultNow(),
    leaseToken: uuid('lease_token'),
    leaseExpiresAt: timestamp('lease_expires_at', { withTimezone: true }),
    itemsFetched: bigint('items_fetched', { mode: 'number' }).notNull().default(0),
    itemsWritten: bigint('items_written', { mode: 'number' }).notNull().default(0),
    itemsFailed: bigint('items_failed', { mode: 'number' }).notNull().default(0),
    lastError: text('last_error'),
    // A sentence for a person about an outcome that needs a decision (e.g. deletions held back).
    warning: text('warning'),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    // status = 'queued', for the claim index and the claim. Without statistics (before the first
    // ANALYZE, or stale ones) the planner guesses 1 row in 200 for `status = 'queued'` but 1 in 2
    // for a boolean column; with the former it may sort every queued chunk on each claim instead of
    // reading the claim index in order and stopping at the first claimable one.
    queued: boolean('queued').generatedAlwaysAs(sql`status = 'queued'`),
    ...timestamps,
  },
  (table) => [
    uniqueIndex('job_chunks_job_seq_key').on(table.jobId, table.seq),
    // The claim reads queued chunks by priority and run_after, running ones by lease expiry.
    index('job_chunks_claim_idx')
      .on(table.priority, table.runAfter, table.jobId, table.seq)
      .where(sql`${table.queued}`),
    index('job_chunks_lease_idx').on(table.leaseExpiresAt).where(sql`${table.status} = 'running'`),
    // A job's open chunks: a finishing chunk locks one (see FINISH), SETTLE looks for any.
    index('job_chunks_open_idx')
      .on(table.jobId)
      .where(sql`${table.status} in ('queued', 'running')`),
    check(
      'job_chunks_status_check',
      sql`${table.status} in ('queued', 'running', 'succeeded', 'failed', 'cancelled')`,
    ),
  ],
)

/** Incremental-sync watermarks: one per source and scope (a project key, or '' for all). */
export const syncState = pgTable(
  'sync_state',
  {
    source: text('source').notNull(),
    scope: text('scope').notNull().default(''),
    watermark: timestamp('watermark', { withTimezone: true }).notNull(),
    ...timestamps,
  },
  (table) => [primaryKey({ columns: [table.source, table.scope] })],
)

/** Tempo worklogs as imported; the columns the original system's readers use are kept. */
export const tempoWorklogs = pgTable(
  'tempo_worklogs',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    worklogId: text('worklog_id').notNull().unique(),
    accountId: text('account_id').notNull(),
    issueId: text('issue_id').notNull(),
    issueKey: text('issue_key').notNull(),
    epicKey: text('epic_key'),
    projectKey: text('project_key').notNull(),
    startDate: date('start_date', { mode: 'string' }).notNull(),
    startTime: text('start_time'),
    hours: doublePrecision('hours').notNull(),
    timeSpentSeconds: integer('time_spent_seconds').notNull(),
    userDisplayName: text('user_display_name').notNull(),
    team: text('team'),
    description: text('description').notNull().default(''),
    tempoUpdatedAt: timestamp('tempo_updated_at', { withTimezone: true }),
    ...timestamps,
  },
  (table) => [
    index('tempo_worklogs_account_id_idx').on(table.accountId),
    index('tempo_worklogs_issue_key_idx').on(table.issueKey),
    index('tempo_worklogs_epic_key_idx').on(table.epicKey),
    index('tempo_worklogs_project_key_idx').on(table.projectKey),
    index('tempo_worklogs_start_date_idx').on(table.startDate),
    index('tempo_worklogs_team_idx').on(table.team),
    index('tempo_worklogs_project_start_idx').on(table.projectKey, table.startDate),
    index('tempo_worklogs_epic_start_idx').on(table.epicKey, table.startDate),
    index('tempo_worklogs_team_start_idx').on(table.team, table.startDate),
    index('tempo_worklogs_account_team_idx').on(table.accountId, table.team),
  ],
)

/**
 * Jira issue id → key, as Jira last answered (searches of both pipelines and the reconcile's key
 * scan); `updated_at` is when. `vector_key` and `vector_updated_ms` say under which key and at which
 * `updated` (epoch ms) the issue's vector was last written, so a re-keyed issue moves and an older
 * read never overwrites a newer one (docs/ARCHITECTURE.md, "Data model").
 */
export const jiraIssueKeys = pgTable(
  'jira_issue_keys',
  {
    issueId: text('issue_id').primaryKey(),
    issueKey: text('issue_key').notNull(),
    projectKey: text('project_key').notNull(),
    projectId: text('project_id'),
    vectorKey: text('vector_key'),
    vectorUpdatedMs: bigint('vector_updated_ms', { mode: 'number' }),
    ...timestamps,
  },
  (table) => [index('jira_issue_keys_issue_key_idx').on(table.issueKey)],
)

/** Cache of Jira account id → display name, filled by the bulk user lookup. */
export const jiraUsers = pgTable('jira_users', {
  accountId: text('account_id').primaryKey(),
  displayName: text('display_name').notNull(),
  email: text('email'),
  ...timestamps,
})

/**
 * The worker slots: at most `WORKERS_MAX` workers run at once while workers are asked for. A slot
 * is free (`expires_at` past), reserved for a worker asked for (no `holder`, `expires_at` ahead) or
 * held by a running worker until its invocation's deadline (docs/ARCHITECTURE.md, "The job engine").
 */
export const workerSlots = pgTable('worker_slots', {
  slot: smallint('slot').primaryKey(),
  holder: uuid('holder'),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull().default(sql`'-infinity'`),
})
