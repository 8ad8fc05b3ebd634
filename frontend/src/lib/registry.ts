/** Client logic of the registry screens: polling an import job until it ends, export filters. */
import type { ExportIn, ImportJob, ImportStatus, ResidentFilters } from '@/api/registry'

export const FINAL_STATUSES: ImportStatus[] = ['done', 'rejected', 'failed']

export function isFinal(job: Pick<ImportJob, 'status'>): boolean {
  return FINAL_STATUSES.includes(job.status)
}

/** The percentage to show (0–100, one decimal): the server's, else processed / total; 100 once done. */
export function progressPercent(job: Pick<ImportJob, 'status' | 'percent' | 'processed' | 'total'>): number {
  if (job.status === 'done') return 100
  const p = Number.isFinite(job.percent) && job.percent > 0 ? job.percent : job.total > 0 ? (100 * job.processed) / job.total : 0
  return Math.max(0, Math.min(100, Math.round(p * 10) / 10))
}

/** The state of the progress bar. */
export function progressStatus(job: Pick<ImportJob, 'status' | 'errors'>): '' | 'success' | 'warning' | 'exception' {
  if (job.status === 'rejected' || job.status === 'failed') return 'exception'
  if (job.status === 'done') return job.errors > 0 ? 'warning' : 'success'
  return ''
}

export interface PollOptions {
  /** First wait (ms); doubles on every unchanged answer up to `maxInterval`. */
  interval?: number
  maxInterval?: number
  /** Consecutive failed reads before giving up (the error is thrown). */
  maxFailures?: number
  signal?: AbortSignal
  sleep?: (ms: number) => Promise<void>
}

export class PollAborted extends Error {
  constructor() {
    super('aborted')
    this.name = 'PollAborted'
  }
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Reads the job until its status is final, reporting every answer; returns the final job. Unchanged
 * answers back off (interval × 2, up to maxInterval); a change resets the interval. Transient read
 * errors are retried up to maxFailures in a row. Aborting the signal stops it with PollAborted. */
export async function pollImportJob(
  read: () => Promise<ImportJob>,
  onUpdate: (job: ImportJob) => void,
  options: PollOptions = {},
): Promise<ImportJob> {
  const base = options.interval ?? 500
  const max = options.maxInterval ?? 4000
  const maxFailures = options.maxFailures ?? 5
  const sleep = options.sleep ?? defaultSleep
  let wait = base
  let failures = 0
  let last = ''
  for (;;) {
    if (options.signal?.aborted) throw new PollAborted()
    let job: ImportJob
    try {
      job = await read()
      failures = 0
    } catch (e) {
      failures += 1
      if (failures >= maxFailures) throw e
      await sleep(wait)
      wait = Math.min(max, wait * 2)
      continue
    }
    if (options.signal?.aborted) throw new PollAborted()
    onUpdate(job)
    if (isFinal(job)) return job
    const key = `${job.status}|${job.phase}|${job.processed}|${job.inserted}|${job.errors}`
    wait = key === last ? Math.min(max, wait * 2) : base
    last = key
    await sleep(wait)
  }
}

/** The export body for the residents list's current filter (only what the export understands). */
export function exportBody(
  kind: ExportIn['kind'],
  filters: Pick<ResidentFilters, 'area' | 'building' | 'residence_type'>,
  format: ExportIn['format'] = 'xlsx',
  reveal = false,
  purpose = '',
): ExportIn {
  const body: ExportIn = { kind, format, reveal }
  if (filters.area) body.area = filters.area
  if (filters.building) body.building = filters.building.trim()
  if (filters.residence_type && kind === 'residents') body.residence_type = filters.residence_type as ExportIn['residence_type']
  if (reveal && purpose.trim()) body.purpose = purpose.trim()
  return body
}

/** Splits the single search box: an 18/15-character ID number, a phone, or a name. */
export function searchQuery(text: string): Pick<ResidentFilters, 'q' | 'id_number' | 'phone'> {
  const v = text.trim()
  if (!v) return {}
  const compact = v.replace(/[\s-]/g, '')
  if (/^\d{17}[\dXx]$/.test(compact) || /^\d{15}$/.test(compact)) return { id_number: compact.toUpperCase() }
  if (/^(\+?86)?1\d{10}$/.test(compact) || /^0\d{9,11}$/.test(compact)) return { phone: compact }
  return { q: v }
}

