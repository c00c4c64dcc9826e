import * as v from 'valibot'

/**
 * The deletion brake both pipelines apply (docs/ARCHITECTURE.md, "Pipelines"): a run that would
 * delete more than a share of a project's stored records deletes none of them and finishes with a
 * warning naming the count, until a start with `confirmDeletions: true` lets it through. Mass
 * deletions are more often an upstream's outage, a lost permission or a renamed project than work
 * done; a few deletions are never held.
 */

/** The share of a project's stored records one run may delete (20 %). */
export const DELETION_SHARE = 0.2
/** A run deleting at most this many records of a project is never held. */
export const DELETION_FLOOR = 10

/** `confirmDeletions` of a start: `true`/`false`, or their text in the query string. */
export const ConfirmDeletions = v.pipe(
  v.union([v.boolean(), v.picklist(['true', 'false'])]),
  v.transform((value) => value === true || value === 'true'),
)

/** Whether `params` (a job's) confirm mass deletions. */
export function deletionsConfirmed(params: unknown): boolean {
  return (
    typeof params === 'object' &&
    params !== null &&
    (params as { confirmDeletions?: unknown }).confirmDeletions === true
  )
}

/** Whether deleting `gone` of `stored` records must wait for a confirmed start. */
export function deletionHeld(gone: number, stored: number, confirmed: boolean): boolean {
  return !confirmed && gone > DELETION_FLOOR && gone > DELETION_SHARE * stored
}

/** The warning of a held deletion, for the job's progress. */
export function heldWarning(what: string, gone: number, stored: number): string {
  const share = stored > 0 ? Math.round((gone / stored) * 100) : 100
  return `Held back ${gone} deletions of ${what} (${share}% of ${stored} stored, over the ${Math.round(DELETION_SHARE * 100)}% limit): start a backfill with confirmDeletions: true to apply them.`
}
