/** The deadline colour rule (时限预警): red once the deadline has passed, yellow when 80 % of the time
 * from acceptance to the deadline is used, none otherwise or when the case is finished. The server keeps
 * the exact level in working time (deadline_warning events and notifications); the list API does not
 * carry it, so screens approximate it with this wall-clock rule. */

export type DeadlineLevel = 'none' | 'yellow' | 'red'

const FINISHED = new Set(['closed', 'rated', 'rejected', 'verified'])
export const YELLOW_SHARE = 0.8

export interface DeadlineFacts {
  status: string
  due_at: string | null
  accepted_at?: string | null
  created_at?: string | null
  suspended?: boolean
}

export function deadlineLevel(facts: DeadlineFacts, now: Date = new Date()): DeadlineLevel {
  if (!facts.due_at || FINISHED.has(facts.status)) return 'none'
  const due = Date.parse(facts.due_at)
  if (Number.isNaN(due)) return 'none'
  const t = now.getTime()
  if (t >= due) return 'red'
  if (facts.suspended) return 'none'
  const startText = facts.accepted_at ?? facts.created_at
  const start = startText ? Date.parse(startText) : NaN
  if (Number.isNaN(start) || start >= due) return 'none'
  return (t - start) / (due - start) >= YELLOW_SHARE ? 'yellow' : 'none'
}

/** Sort key: cases with a deadline first, earliest deadline first; then the oldest report. */
export function byDeadline<T extends { due_at: string | null; created_at: string }>(a: T, b: T): number {
  const da = a.due_at ? Date.parse(a.due_at) : Infinity
  const db = b.due_at ? Date.parse(b.due_at) : Infinity
  if (da !== db) return da - db
  return Date.parse(a.created_at) - Date.parse(b.created_at)
}
