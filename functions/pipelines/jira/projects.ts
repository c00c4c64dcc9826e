import type { Database } from '#core/db/client.ts'
import { activeProjectKeys } from '#core/db/projects.ts'
import { AppError } from '#core/errors.ts'
import type { Logger } from '#core/log.ts'
import { failureToError, type UpstreamResult } from '#core/upstreams/failure.ts'
import type { JiraClient, JiraProjectRef } from '#core/upstreams/jira/client.ts'
import { isProjectKey } from '#core/upstreams/jira/jql.ts'

/**
 * Which Jira projects a job covers, identified by Jira's ids (docs/ARCHITECTURE.md, "Pipelines"):
 * a key named in a request or in `projects` may be a former key, and finds the project that carries
 * it now; two names of one project make one chunk.
 */

/** A project a job covers: the key it was named by (or its key now), and its id when Jira said. */
export type CoveredProject = { project: string; projectId?: string }

const LOGGED_KEYS = 20

/** The project carrying `key` now (current or former key), among `listed`. */
export function projectOfKey(
  listed: readonly JiraProjectRef[],
  key: string,
): JiraProjectRef | undefined {
  const upper = key.toUpperCase()
  return (
    listed.find((project) => project.key === upper) ??
    listed.find((project) => project.keys.includes(upper))
  )
}

/**
 * The projects of a job: those named, else the active rows of `projects`, else every project
 * Jira shows the account. Named and active keys are mapped to projects through Jira's list (former
 * keys included) when Jira answers before `signal` aborts; otherwise they stay keys, which each
 * chunk resolves when it runs.
 * @throws {AppError} UNAVAILABLE when no project is named or active and Jira does not list its
 * projects in time or is down; UPSTREAM_FAILED when it refuses the listing
 */
export async function projectsToCover(
  deps: { db: Database; log: Logger; jira: Pick<JiraClient, 'listProjects'> },
  named: readonly string[] | undefined,
  signal: AbortSignal,
): Promise<CoveredProject[]> {
  const wanted = named && named.length > 0 ? [...new Set(named)] : await activeProjectKeys(deps.db)
  const listed = await deps.jira.listProjects(signal)
  if (wanted.length > 0) {
    if (!listed.ok) {
      deps.log.warn(
        { reason: listed.reason },
        'jira projects not listed; chunks resolve their keys',
      )
      return wanted.map((project) => ({ project }))
    }
    const byId = new Map<string, CoveredProject>()
    const unknown: CoveredProject[] = []
    for (const key of wanted) {
      const found = projectOfKey(listed.value, key)
      if (found) {
        byId.set(found.id, { project: found.key, projectId: found.id })
      } else {
        unknown.push({ project: key })
      }
    }
    return [...byId.values(), ...unknown]
  }
  if (!listed.ok) {
    if (signal.aborted) {
      throw new AppError('UNAVAILABLE', 'Jira did not answer in time; try again.', {
        retryable: true,
        cause: listed,
        publicMessage: true,
      })
    }
    throw failureToError(listed, 'list the Jira projects')
  }
  const skipped = listed.value.filter((project) => !isProjectKey(project.key))
  if (skipped.length > 0) {
    deps.log.warn(
      { skipped: skipped.length, keys: skipped.slice(0, LOGGED_KEYS).map((p) => p.key) },
      'jira projects left out: keys outside the project key syntax',
    )
  }
  return listed.value
    .filter((project) => isProjectKey(project.key))
    .map((project) => ({ project: project.key, projectId: project.id }))
}

/**
 * The project a chunk runs for, as Jira knows it now (by id when known, else by the key it was
 * named by, which may be a former key).
 * @throws {AppError} UPSTREAM_FAILED (not retryable) when Jira has no such project for the account
 */
export async function resolveProject(
  jira: Pick<JiraClient, 'getProject'>,
  covered: CoveredProject,
  signal: AbortSignal,
): Promise<UpstreamResult<JiraProjectRef>> {
  const found = await jira.getProject(covered.projectId ?? covered.project, signal)
  if (!found.ok && found.reason === 'not-found') {
    throw new AppError(
      'UPSTREAM_FAILED',
      `Jira has no project ${covered.project} that this account can see.`,
      { retryable: false },
    )
  }
  if (found.ok && !isProjectKey(found.value.key)) {
    throw new AppError('UPSTREAM_FAILED', 'Jira named the project with a key outside its syntax.')
  }
  return found
}
