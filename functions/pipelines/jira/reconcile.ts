import { checkLease } from '#core/jobs/lease-fence.ts'
import type { StepResult } from '#core/jobs/types.ts'
import { failureToStep, type RetryStep } from '#core/upstreams/failure.ts'
import type { JiraClient, JiraIssue, JiraProjectRef } from '#core/upstreams/jira/client.ts'
import { projectKeysJql } from '#core/upstreams/jira/jql.ts'
import type { PineconeSink } from '#core/upstreams/pinecone/client.ts'
import { deletionHeld, heldWarning } from '#pipelines/backfill/deletion-brake.ts'
import { JIRA_FIELDS } from './document.ts'
import { keysSeenSince, saveIssueKeys } from './issue-map.ts'
import { type IssueWriterDeps, jiraVectorId, writeIssues } from './issue-writer.ts'

/**
 * The reconcile of one project's vectors with Jira, in checkpointed steps (docs/ARCHITECTURE.md,
 * "Pipelines"): a scan of every key the project holds now (5000 a step; it ends only on Jira's
 * `isLast: true`), then the listing of the vectors under each of the project's keys, current and
 * former (2000 ids a step, in Pinecone list pages of 100; Pinecone's token in the cursor). A listed
 * vector whose key the scan did not see is asked of Jira by key: re-keyed (a renamed project, a
 * moved issue), it moves; unknown to Jira, it is gone. Gone vectors are counted in a first pass and
 * deleted in a second, unless they exceed the deletion brake: then nothing is deleted and the chunk
 * ends with a warning. Every step checks the chunk's lease before it deletes anything in Pinecone
 * (`LeaseLostError` ends the attempt), as its database writes do in the same statement.
 */

/** Where the reconcile stands. */
export type ReconcileCursor = {
  /** `keys`: scanning Jira; `count`: listing, moving and counting; `delete`: listing and deleting */
  step: 'keys' | 'count' | 'delete'
  /** database time the key scan began (ISO): keys Jira named since then exist now */
  since: string
  /** Jira's token of the key scan's next page */
  keyToken?: string
  /** which of the project's keys is being listed, and Pinecone's token for its next page */
  prefix: number
  listToken?: string
  /** keys the scan saw: none means Jira's answer is empty, which is no evidence of deletions */
  scanned: number
  /** vectors listed, gone and moved in the counting pass; deleted in the deleting pass */
  stored: number
  gone: number
  /** the gone keys while they are few (`GONE_KEYS_KEPT`): the deleting pass then lists nothing */
  goneKeys?: string[]
  moved: number
  deleted: number
}

/** What the reconcile uses. */
export type ReconcileDeps = IssueWriterDeps & {
  jira: Pick<JiraClient, 'searchPage' | 'issuesByKeys' | 'issuesByIds'>
  pinecone: Pick<PineconeSink, 'upsertDocuments' | 'deleteIds' | 'listPage'>
  /** keys per page of the key scan (`KEY_PAGE_SIZE`) */
  keyPageSize: number
}

/** Keys per page of the key scan: Jira serves up to 5000 when only `key` is asked. */
export const KEY_PAGE_SIZE = 5000
/** Pinecone list pages (of up to 100 ids) per step: a step of 2000 ids is one database round trip. */
export const LIST_PAGES_PER_STEP = 20
/** Gone keys kept in the cursor; past this many, the deleting pass lists the vectors again. */
export const GONE_KEYS_KEPT = 1000

type Context = {
  project: JiraProjectRef
  lease: { chunkId: string; token: string }
  signal: AbortSignal
  confirmed: boolean
}

/** A fresh reconcile cursor, the key scan starting at `since` (database time). */
export function startReconcile(since: Date): ReconcileCursor {
  return {
    step: 'keys',
    since: since.toISOString(),
    prefix: 0,
    scanned: 0,
    stored: 0,
    gone: 0,
    goneKeys: [],
    moved: 0,
    deleted: 0,
  }
}

/** Runs the reconcile from `start` a step at a time. */
export async function* reconcile(
  deps: ReconcileDeps,
  context: Context,
  start: ReconcileCursor,
): AsyncGenerator<StepResult<ReconcileCursor>, void, void> {
  let cursor = start
  while (cursor.step === 'keys') {
    const step = await scanKeys(deps, context, cursor)
    if (step.kind === 'retry') {
      yield step
      return
    }
    cursor = step.cursor
    yield step
  }
  const { project } = context
  while (cursor.prefix < project.keys.length) {
    if (cursor.step === 'delete' && cursor.goneKeys) {
      // Few gone keys are known by name: they are deleted without listing again.
      const deleted = await deleteKnown(deps, context, cursor)
      if (deleted.kind === 'retry') {
        yield deleted
        return
      }
      cursor = deleted.cursor
      yield deleted
      continue
    }
    const step = await listStep(deps, context, cursor)
    if (step.kind === 'retry') {
      yield step
      return
    }
    cursor = step.cursor
    const finished = cursor.prefix >= project.keys.length
    if (finished && cursor.step === 'count' && cursor.gone > 0) {
      // An empty scan is more likely a lost permission than an emptied project.
      const empty = cursor.scanned === 0 && !context.confirmed
      if (empty || deletionHeld(cursor.gone, cursor.stored, context.confirmed)) {
        const warning = heldWarning(`project ${project.key}`, cursor.gone, cursor.stored)
        deps.log.warn({ project: project.key, gone: cursor.gone, stored: cursor.stored }, warning)
        yield { ...step, warning }
        return
      }
      cursor = { ...cursor, step: 'delete', prefix: 0 }
      delete cursor.listToken
    }
    yield { ...step, cursor }
  }
  if (cursor.deleted > 0 || cursor.moved > 0) {
    deps.log.info(
      { project: project.key, deleted: cursor.deleted, moved: cursor.moved },
      'jira reconcile: vectors of issues gone from Jira deleted, re-keyed ones moved',
    )
  }
}

type Step = { kind: 'page'; cursor: ReconcileCursor; fetched: number; written: number }

// One page of the key scan: the keys it names are recorded as seen now.
async function scanKeys(
  deps: ReconcileDeps,
  { project, lease, signal }: Context,
  cursor: ReconcileCursor,
): Promise<Step | RetryStep> {
  const page = await deps.jira.searchPage({
    jql: projectKeysJql(project.id),
    fields: ['key'],
    maxResults: deps.keyPageSize,
    signal,
    ...(cursor.keyToken !== undefined && { nextPageToken: cursor.keyToken }),
  })
  if (!page.ok) {
    return failureToStep(page, 'jira', signal)
  }
  await saveIssueKeys(
    deps.db,
    lease,
    page.value.issues.map((issue) => ({
      issueId: issue.id,
      issueKey: issue.key,
      projectId: project.id,
      projectKey: project.key,
    })),
  )
  const scanned = cursor.scanned + page.value.issues.length
  const next: ReconcileCursor = page.value.isLast
    ? { ...cursor, scanned, step: 'count', prefix: 0 }
    : { ...cursor, scanned, keyToken: page.value.nextPageToken as string }
  if (page.value.isLast) {
    delete next.keyToken
  }
  return { kind: 'page', cursor: next, fetched: page.value.issues.length, written: 0 }
}

// What Jira says of listed keys the scan did not see: moved (to a key it has now) or gone.
type Verdict = { moved: Map<string, JiraIssue>; gone: string[] }

async function judge(
  deps: ReconcileDeps,
  { project, signal }: Context,
  unseen: readonly string[],
): Promise<Verdict | RetryStep> {
  const found = await deps.jira.issuesByKeys(unseen, JIRA_FIELDS, signal)
  if (!found.ok) {
    return failureToStep(found, 'jira', signal)
  }
  const moved = new Map<string, JiraIssue>()
  const left = new Set(unseen)
  const byKey = new Map(found.value.map((issue) => [issue.key, issue]))
  for (const key of unseen) {
    if (byKey.has(key)) {
      left.delete(key) // Jira has it under this very key (added since the scan): it stays
    }
  }
  // A renamed project keeps the numbers: OLD-7 is CURRENT-7.
  for (const key of [...left]) {
    const renamed = byKey.get(`${project.key}-${key.slice(key.lastIndexOf('-') + 1)}`)
    if (renamed && project.keys.includes(key.slice(0, key.lastIndexOf('-')))) {
      moved.set(key, renamed)
      left.delete(key)
    }
  }
  const answered = new Set([...unseen, ...[...moved.values()].map((issue) => issue.key)])
  const unexplained = found.value.filter((issue) => !answered.has(issue.key))
  if (unexplained.length > 0) {
    // Jira returned issues for keys not explained above (moved issues get new numbers): ask the
    // remaining keys one by one to learn which issue each one names.
    for (const key of [...left]) {
      const one = await deps.jira.issuesByKeys([key], JIRA_FIELDS, signal)
      if (!one.ok) {
        return failureToStep(one, 'jira', signal)
      }
      const issue = one.value[0]
      if (issue) {
        moved.set(key, issue)
        left.delete(key)
      }
    }
  }
  return { moved, gone: [...left] }
}

// A batch of the gone keys the counting pass kept: asked of Jira again (so only what is still gone
// goes), then deleted.
async function deleteKnown(
  deps: ReconcileDeps,
  context: Context,
  cursor: ReconcileCursor,
): Promise<Step | RetryStep> {
  const { project, signal } = context
  const keys = cursor.goneKeys ?? []
  const batch = keys.slice(0, 100)
  const verdict =
    batch.length > 0 ? await judge(deps, context, batch) : { moved: new Map(), gone: [] }
  if (!('moved' in verdict)) {
    return verdict
  }
  // Moved since the count: written under its new key (when still here), the old id deleted.
  const movedHere = [...verdict.moved.values()].filter(
    (issue) => issue.fields?.project?.id === project.id,
  )
  const written = await writeIssues(deps, context, movedHere)
  if ('kind' in written) {
    return written
  }
  const doomed = [...verdict.gone, ...verdict.moved.keys()].map(jiraVectorId)
  if (doomed.length > 0) {
    await checkLease(deps.db, context.lease)
    const deleted = await deps.pinecone.deleteIds(doomed, signal)
    if (!deleted.ok) {
      return failureToStep(deleted, 'pinecone', signal)
    }
    deps.log.info(
      { project: project.key, deleted: verdict.gone.length, ids: verdict.gone.slice(0, 20) },
      'jira reconcile: vectors of issues Jira no longer has deleted',
    )
  }
  const rest = keys.slice(batch.length)
  const next: ReconcileCursor = {
    ...cursor,
    deleted: cursor.deleted + verdict.gone.length,
    moved: cursor.moved + verdict.moved.size,
    prefix: rest.length > 0 ? cursor.prefix : project.keys.length,
    goneKeys: rest,
  }
  if (rest.length === 0) {
    delete next.goneKeys
  }
  return {
    kind: 'page',
    cursor: next,
    fetched: batch.length,
    written: written.written + doomed.length,
  }
}

// One page of the vectors under one of the project's keys: moves what Jira re-keyed, and counts
// (first pass) or deletes (second pass) what Jira no longer has.
async function listStep(
  deps: ReconcileDeps,
  context: Context,
  cursor: ReconcileCursor,
): Promise<Step | RetryStep> {
  const { project, signal } = context
  const prefix = `jira-${project.keys[cursor.prefix]}-`
  const ids: string[] = []
  let token = cursor.listToken
  for (let n = 0; n < LIST_PAGES_PER_STEP; n += 1) {
    const listed = await deps.pinecone.listPage(prefix, token, signal)
    if (!listed.ok) {
      return failureToStep(listed, 'pinecone', signal)
    }
    ids.push(...listed.ids)
    token = listed.next
    if (!token) {
      break
    }
  }
  const page = { ids, next: token }
  const keys = page.ids.map((id) => id.slice('jira-'.length))
  const seen = await keysSeenSince(deps.db, keys, new Date(cursor.since))
  const unseen = keys.filter((key) => !seen.has(key))
  let written = 0
  let gone: string[] = []
  let moved = 0
  if (unseen.length > 0) {
    const verdict = await judge(deps, context, unseen)
    if (!('moved' in verdict)) {
      return verdict
    }
    gone = verdict.gone
    const movedHere = [...verdict.moved.values()].filter(
      (issue) => issue.fields?.project?.id === project.id,
    )
    const result = await writeIssues(deps, context, movedHere)
    if ('kind' in result) {
      return result
    }
    // The new vectors are written: the old ids go (a move out of the project only deletes).
    const old = [...verdict.moved.entries()]
      .filter(([key, issue]) => issue.key !== key)
      .map(([key]) => jiraVectorId(key))
    const deleting = old.length > 0 || (cursor.step === 'delete' && gone.length > 0)
    if (deleting) {
      await checkLease(deps.db, context.lease)
    }
    if (old.length > 0) {
      const deleted = await deps.pinecone.deleteIds(old, signal)
      if (!deleted.ok) {
        return failureToStep(deleted, 'pinecone', signal)
      }
    }
    moved = old.length
    written += result.written + old.length
    if (cursor.step === 'delete' && gone.length > 0) {
      const deleted = await deps.pinecone.deleteIds(gone.map(jiraVectorId), signal)
      if (!deleted.ok) {
        return failureToStep(deleted, 'pinecone', signal)
      }
      written += gone.length
      deps.log.info(
        { project: project.key, deleted: gone.length, ids: gone.slice(0, 20) },
        'jira reconcile: vectors of issues Jira no longer has deleted',
      )
    }
  }
  const next: ReconcileCursor = {
    ...cursor,
    ...(cursor.step === 'count'
      ? { stored: cursor.stored + page.ids.length, gone: cursor.gone + gone.length }
      : { deleted: cursor.deleted + gone.length }),
    moved: cursor.moved + moved,
  }
  const known = cursor.goneKeys && [...cursor.goneKeys, ...gone]
  delete next.goneKeys
  if (cursor.step === 'count' && known && known.length <= GONE_KEYS_KEPT) {
    next.goneKeys = known
  }
  if (page.next) {
    next.listToken = page.next
  } else {
    delete next.listToken
    next.prefix = cursor.prefix + 1
  }
  return { kind: 'page', cursor: next, fetched: page.ids.length, written }
}
