// The queue's statements (functions/core/jobs/queue.ts). Every time comes from the database's
// now(): workers on several machines share one clock. A chunk's writes are fenced by its lease
// token: zero rows updated means another worker holds the chunk now.

// The interval of `$3` milliseconds.
const MS_3 = 'make_interval(secs => $3::float8 / 1000)'

/**
 * A job with its progress, in one statement: aggregates of its chunks, their warnings (each
 * sentence once, in the order of the first chunk that left it: the chunks of a job often share
 * one) and the latest error.
 */
export const SELECT_JOBS = `
  SELECT j.id, j.kind, j.status, j.params, j.created_at, j.started_at, j.finished_at,
    j.cancel_requested_at IS NOT NULL AS cancel_requested,
    p.chunks_total, p.chunks_done, p.chunks_failed, p.items_fetched, p.items_written, p.items_failed,
    w.warnings,
    extract(epoch FROM coalesce(j.finished_at, now()) - j.started_at)::float8 AS elapsed_seconds,
    e.last_error
  FROM jobs j
  CROSS JOIN LATERAL (
    SELECT count(*)::int AS chunks_total,
      count(*) FILTER (WHERE c.status = 'succeeded')::int AS chunks_done,
      count(*) FILTER (WHERE c.status = 'failed')::int AS chunks_failed,
      coalesce(sum(c.items_fetched), 0)::float8 AS items_fetched,
      coalesce(sum(c.items_written), 0)::float8 AS items_written,
      coalesce(sum(c.items_failed), 0)::float8 AS items_failed
    FROM job_chunks c WHERE c.job_id = j.id
  ) p
  CROSS JOIN LATERAL (
    SELECT coalesce(array_agg(f.warning ORDER BY f.seq), '{}') AS warnings
    FROM (
      SELECT c.warning, min(c.seq) AS seq FROM job_chunks c
      WHERE c.job_id = j.id AND c.warning IS NOT NULL
      GROUP BY c.warning
    ) f
  ) w
  LEFT JOIN LATERAL (
    SELECT c.last_error FROM job_chunks c
    WHERE c.job_id = j.id AND c.last_error IS NOT NULL
    ORDER BY c.updated_at DESC LIMIT 1
  ) e ON true`

/**
 * Marks active jobs without open chunks as finished; the outcome follows the chunks. The
 * updated_at guard skips a job that changed since this statement's snapshot (a cancel, a resume):
 * whoever changed it settles it afterwards.
 */
export const SETTLE = `
  WITH settled AS (
    SELECT j.id, j.updated_at,
      CASE
        WHEN EXISTS (SELECT 1 FROM job_chunks c WHERE c.job_id = j.id AND c.status = 'cancelled')
          THEN 'cancelled'
        WHEN EXISTS (SELECT 1 FROM job_chunks c WHERE c.job_id = j.id AND c.status = 'failed')
          THEN 'failed'
        ELSE 'succeeded'
      END AS status
    FROM jobs j
    WHERE j.status IN ('queued', 'running') AND ($1::uuid IS NULL OR j.id = $1::uuid)
      AND NOT EXISTS (
        SELECT 1 FROM job_chunks c WHERE c.job_id = j.id AND c.status IN ('queued', 'running'))
  )
  UPDATE jobs j SET status = settled.status, finished_at = now(), updated_at = now()
  FROM settled
  WHERE j.id = settled.id AND j.updated_at = settled.updated_at AND j.status IN ('queued', 'running')
  RETURNING j.id`

/** A job and its chunks in one statement; nothing when a dedupe or run key is taken. */
export const INSERT_JOB = `
  WITH job AS (
    INSERT INTO jobs (kind, params, dedupe_key, run_key, created_by, status, started_at, finished_at)
    SELECT $1, $2::jsonb, $3, $4, $5, s.status, s.at, s.at
    FROM (SELECT CASE WHEN jsonb_array_length($6::jsonb) = 0 THEN 'succeeded' ELSE 'queued' END AS status,
      CASE WHEN jsonb_array_length($6::jsonb) = 0 THEN now() END AS at) s
    ON CONFLICT DO NOTHING
    RETURNING id
  ), chunks AS (
    INSERT INTO job_chunks (job_id, seq, scope, max_attempts, priority)
    SELECT job.id, s.ord - 1, s.scope, $7, $8
    FROM job, jsonb_array_elements($6::jsonb) WITH ORDINALITY AS s(scope, ord)
  )
  SELECT id FROM job`

/** A job already holding the run key, else the active one holding the dedupe key. */
export const FIND_HOLDER = `
  SELECT id FROM jobs
  WHERE run_key = $2 OR (dedupe_key = $1 AND status IN ('queued', 'running'))
  ORDER BY run_key = $2 DESC NULLS LAST
  LIMIT 1`

/** The active job that holds the dedupe key of job $1. */
export const FIND_RIVAL = `
  SELECT rival.id FROM jobs me JOIN jobs rival ON rival.dedupe_key = me.dedupe_key
  WHERE me.id = $1 AND rival.id <> me.id AND rival.status IN ('queued', 'running')
  LIMIT 1`

// Whether chunk c's job is of a kind this worker runs, active, and not being cancelled. A scalar
// subquery (a primary-key probe per candidate) rather than EXISTS, which the planner may turn into
// a join driven from jobs that sorts all of a job's open chunks on every claim. The claim then
// steps over due chunks that fail it, one probe each; there are few, as every worker function
// registers every kind and a cancel cancels its job's queued chunks at once.
const CLAIMABLE_JOB = `(SELECT j.kind = ANY($1::text[]) AND j.status IN ('queued', 'running')
    AND j.cancel_requested_at IS NULL FROM jobs j WHERE j.id = c.job_id)`

/**
 * One statement: lock the next claimable chunk (skipping those other workers hold) and lease it,
 * returning its job's status too (a queued job is then started with START_JOB). Claimable: running
 * under an expired lease with attempts left (its worker died; the reaper fails the exhausted ones),
 * else queued and due, by priority (0 first: daily syncs before backfill chunks), then oldest
 * first and in seq order within a job.
 *
 * Expired leases come first whatever their priority, on purpose: every worker invocation starts by
 * reaping, which puts expired leases back in the queue where priority orders them, so this branch
 * only takes the few that ran out since; each is a chunk already under way (its cursor and partial
 * writes wait for it), and each such claim costs the chunk an attempt, so a backfill cannot keep a
 * sync waiting this way. Ordering them by priority too would weigh both branches on every claim.
 * Each branch reads its own
 * partial index in that order and stops at the first claimable chunk, so a claim costs the same
 * whatever the backlog (see `queued` in db/schema.ts); coalesce() runs the second only when the
 * first finds nothing. A single UPDATE, no CTEs: planning is much of a claim's cost.
 *
 * Its commit does not wait for the WAL flush (synchronous_commit off, for this transaction only):
 * the flush is half the commit waits of a chunk's claim and completion. A claim lost in a crash
 * before the next flush (the walwriter's, or any synchronous commit's, such as its worker's next
 * write) is a lease gone early, as if it had expired: that worker's writes find it lost and the
 * chunk is claimed again. Its completion, checkpoints and every other write still commit durably.
 */
export const CLAIM = `
  UPDATE job_chunks c SET status = 'running', lease_token = gen_random_uuid(),
    lease_expires_at = now() + make_interval(secs => $2::float8 / 1000),
    attempts = c.attempts + 1, started_at = coalesce(c.started_at, now()), updated_at = now()
  FROM jobs j
  WHERE j.id = c.job_id AND c.id = coalesce(
    (SELECT c.id FROM job_chunks c
      WHERE c.status = 'running' AND c.lease_expires_at <= now()
        AND c.attempts < c.max_attempts AND ${CLAIMABLE_JOB}
      ORDER BY c.lease_expires_at
      LIMIT 1 FOR UPDATE OF c SKIP LOCKED),
    (SELECT c.id FROM job_chunks c
      WHERE c.queued AND c.run_after <= now() AND ${CLAIMABLE_JOB}
      ORDER BY c.priority, c.run_after, c.job_id, c.seq
      LIMIT 1 FOR UPDATE OF c SKIP LOCKED))
  RETURNING c.id, c.job_id, c.seq, c.scope, c.cursor, c.attempts, c.max_attempts, c.lease_token,
    j.kind, j.params, j.status AS job_status,
    set_config('synchronous_commit', 'off', true) AS synchronous_commit`

/**
 * Marks a queued job started, after a claim of one of its chunks (as CLAIM's `job_status` asked),
 * under that chunk's lease; a running job is not written.
 */
export const START_JOB = `
  UPDATE jobs j SET status = 'running', started_at = coalesce(j.started_at, now()), updated_at = now()
  FROM job_chunks c
  WHERE c.id = $1 AND c.lease_token = $2 AND c.status = 'running' AND j.id = c.job_id
    AND j.status = 'queued'`

// The lease of chunk $1 under token $2 still holds: the same test as `leaseHeld`
// (lease-fence.ts), which fences the sinks' writes. So a lease that expired, even before another
// worker claimed the chunk again, neither checkpoints, renews nor ends the chunk: its page's writes
// were refused too, and the cursor must not move past them.
const LEASE_HELD = `c.id = $1 AND c.lease_token = $2 AND c.status = 'running'
    AND c.lease_expires_at > now()`
const HELD = `${LEASE_HELD} AND j.id = c.job_id`

/**
 * Stores a page's cursor, counters and warning (`$8`, kept when null) and extends the lease; no row
 * when the lease is lost.
 */
export const CHECKPOINT = `
  UPDATE job_chunks c SET cursor = $4::jsonb, items_fetched = c.items_fetched + $5,
    items_written = c.items_written + $6, items_failed = c.items_failed + $7,
    warning = coalesce($8, c.warning),
    lease_expires_at = now() + ${MS_3}, updated_at = now()
  FROM jobs j WHERE ${HELD}
  RETURNING j.cancel_requested_at IS NOT NULL AS cancel_requested`

/** Extends the lease while a page runs; no row when the lease is lost. */
export const HEARTBEAT = `
  UPDATE job_chunks c SET lease_expires_at = now() + ${MS_3}, updated_at = now()
  FROM jobs j WHERE ${HELD}
  RETURNING j.cancel_requested_at IS NOT NULL AS cancel_requested`

// Another chunk of the finishing chunk's job, open now (see FINISH), held until this commits.
const OTHER_OPEN = (status: string) => `EXISTS (
  SELECT FROM job_chunks o WHERE o.job_id = c.job_id AND o.id <> c.id AND o.status = '${status}'
  LIMIT 1 FOR SHARE OF o SKIP LOCKED)`

/**
 * Ends a chunk as succeeded or failed (keeping its cursor) under its lease; no row when the lease
 * is lost. `settle` is false when another chunk of the job is open, so its job need not be settled
 * now; when true, the caller runs SETTLE (usually this was the job's last open chunk).
 *
 * Every part of a statement reads one snapshot, taken before this chunk's row was locked, so merely
 * seeing another open chunk proves nothing: two workers finishing a job's last two chunks at once
 * would each see the other's still running, and neither would settle. So the other chunk is
 * locked, FOR SHARE (it conflicts with the update that would close it) and SKIP LOCKED (never
 * waiting, so no deadlock): a lock is taken on a chunk's latest committed version, which is
 * re-checked (READ COMMITTED's EvalPlanQual), so a chunk locked here is open now; and it stays
 * locked until this commits, so whoever closes it commits after this one and settles the job then
 * (FINISH through the same test, the other transitions through SETTLE afterwards). Without such a
 * chunk (none left, or each one being changed by another transaction right now) `settle` is true,
 * and SETTLE's fresh snapshot, taken after this commit, sees what this one could not. Queued chunks
 * are preferred: a claim skips a locked chunk, while a running chunk's next write would wait.
 * Settling here as well (a data-modifying CTE on jobs) costs every completion about 0.15 ms more
 * planning, where SETTLE costs only a job's last completion a second round trip.
 */
export const FINISH = `
  UPDATE job_chunks c SET status = $3, last_error = $4, lease_token = NULL, lease_expires_at = NULL,
    finished_at = now(), updated_at = now()
  WHERE ${LEASE_HELD}
  RETURNING c.status, NOT (${OTHER_OPEN('queued')} OR ${OTHER_OPEN('running')}) AS settle`

/**
 * Back to the queue after `$3` ms, or failed when this was the last attempt; cancelled instead
 * when a cancel was requested meanwhile.
 */
export const RETRY = `
  UPDATE job_chunks c SET
    status = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled'
      WHEN c.attempts >= c.max_attempts THEN 'failed' ELSE 'queued' END,
    last_error = CASE WHEN c.attempts >= c.max_attempts AND j.cancel_requested_at IS NULL
      THEN 'Gave up after ' || c.attempts || ' attempts: ' || $4 ELSE $4 END,
    run_after = now() + ${MS_3},
    finished_at = CASE WHEN j.cancel_requested_at IS NOT NULL OR c.attempts >= c.max_attempts
      THEN now() END,
    lease_token = NULL, lease_expires_at = NULL, updated_at = now()
  FROM jobs j WHERE ${HELD}
  RETURNING c.status, c.run_after`

// A release ($3 false) after an attempt that checkpointed no page, and was its chunk's last.
const SPENT = 'NOT $3::boolean AND c.attempts >= c.max_attempts'

/**
 * Back to the queue for the next invocation (the time budget ran out), or cancelled when a cancel
 * was requested meanwhile. `$3`: whether this attempt checkpointed a page; only then is the attempt
 * given back. One that finished no page counts, so a chunk whose page never fits the budget fails
 * after max_attempts (with `$4` as its error, keeping its cursor) instead of being requeued forever.
 */
export const RELEASE = `
  UPDATE job_chunks c SET
    status = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled'
      WHEN ${SPENT} THEN 'failed' ELSE 'queued' END,
    finished_at = CASE WHEN j.cancel_requested_at IS NOT NULL OR ${SPENT} THEN now() END,
    attempts = CASE WHEN $3::boolean THEN greatest(c.attempts - 1, 0) ELSE c.attempts END,
    last_error = CASE WHEN $3::boolean OR j.cancel_requested_at IS NOT NULL THEN c.last_error
      WHEN c.attempts >= c.max_attempts THEN 'Gave up after ' || c.attempts || ' attempts: ' || $4
      ELSE $4 END,
    run_after = now(), lease_token = NULL, lease_expires_at = NULL, updated_at = now()
  FROM jobs j WHERE ${HELD}
  RETURNING c.status`

/** Marks an active job as cancelling; workers see it at their next write. */
export const REQUEST_CANCEL = `
  UPDATE jobs SET cancel_requested_at = coalesce(cancel_requested_at, now()), updated_at = now()
  WHERE id = $1 AND status IN ('queued', 'running')
  RETURNING id`

/** Queued chunks, and running ones whose worker is gone; live workers stop at their next step. */
export const CANCEL_CHUNKS = `
  UPDATE job_chunks c SET status = 'cancelled', lease_token = NULL, lease_expires_at = NULL,
    finished_at = now(), updated_at = now()
  WHERE c.job_id = $1
    AND (c.status = 'queued' OR (c.status = 'running' AND c.lease_expires_at <= now()))`

/** Failed and cancelled chunks go back to the queue from their cursors, with fresh attempts. */
export const RESUME = `
  WITH job AS (
    UPDATE jobs SET status = 'queued', cancel_requested_at = NULL, finished_at = NULL,
      updated_at = now()
    WHERE id = $1 AND status IN ('failed', 'cancelled')
    RETURNING id
  )
  UPDATE job_chunks c SET status = 'queued', attempts = 0, run_after = now(), last_error = NULL,
    finished_at = NULL, updated_at = now()
  FROM job WHERE c.job_id = job.id AND c.status IN ('failed', 'cancelled')
  RETURNING c.id`

/**
 * Expired leases: back to the queue, failed when out of attempts (cursor kept), or cancelled;
 * and queued chunks of jobs whose cancel was requested.
 */
export const REAP = `
  WITH stale AS (
    SELECT c.id,
      CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled'
        WHEN c.status = 'running' AND c.attempts >= c.max_attempts THEN 'failed'
        ELSE 'queued' END AS next
    FROM job_chunks c JOIN jobs j ON j.id = c.job_id
    WHERE (c.status = 'running' AND c.lease_expires_at <= now())
      OR (c.status = 'queued' AND j.cancel_requested_at IS NOT NULL)
    FOR UPDATE OF c SKIP LOCKED
  )
  UPDATE job_chunks c SET status = stale.next, lease_token = NULL, lease_expires_at = NULL,
    run_after = CASE WHEN stale.next = 'queued' THEN now() ELSE c.run_after END,
    finished_at = CASE WHEN stale.next = 'queued' THEN NULL ELSE now() END,
    last_error = CASE WHEN stale.next = 'failed'
      THEN 'The worker stopped responding in each of its ' || c.attempts || ' attempts.'
      ELSE c.last_error END,
    updated_at = now()
  FROM stale WHERE c.id = stale.id
  RETURNING stale.next AS next`

/** One batch of finished jobs past retention (their chunks cascade). */
export const DELETE_EXPIRED = `
  WITH doomed AS (
    SELECT id FROM jobs
    WHERE (status IN ('succeeded', 'cancelled') AND finished_at < now() - make_interval(days => $1))
      OR (status = 'failed' AND finished_at < now() - make_interval(days => $2))
    LIMIT $3
  )
  DELETE FROM jobs j USING doomed WHERE j.id = doomed.id`

/**
 * For the deep health check; each part walks an index. The claim index leads with priority, so the
 * oldest due chunk is the oldest of each priority's first due entry: `priorities` skips through the
 * index from one priority to the next (a probe each; there are few), and each probe reads one
 * entry. A plain min(run_after) would read every queued entry.
 */
export const STATS = `
  WITH RECURSIVE priorities AS (
    (SELECT priority FROM job_chunks WHERE queued ORDER BY priority LIMIT 1)
    UNION ALL
    SELECT (SELECT c.priority FROM job_chunks c WHERE c.queued AND c.priority > p.priority
      ORDER BY c.priority LIMIT 1)
    FROM priorities p WHERE p.priority IS NOT NULL
  )
  SELECT
    extract(epoch FROM now() - (
      SELECT min((SELECT c.run_after FROM job_chunks c
        WHERE c.queued AND c.priority = p.priority AND c.run_after <= now()
        ORDER BY c.run_after LIMIT 1))
      FROM priorities p WHERE p.priority IS NOT NULL
    ))::float8 AS oldest_due_seconds,
    (SELECT count(*) FROM job_chunks
      WHERE status = 'running' AND lease_expires_at <= now())::int AS expired_leases,
    (SELECT count(*) FROM jobs
      WHERE status = 'failed' AND finished_at > now() - interval '24 hours')::int AS failed_jobs_24h`
