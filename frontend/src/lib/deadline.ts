/** The deadline colour (时限预警). The server's working-time deadline sweep sets `warning_level` on every
 * case (yellow at 80 % of the time, red once overdue); screens show that. Only when it is absent (an
 * older server) do they fall back to the wall-clock rule here: red once the deadline has passed, yellow
 * when 80 % of the time from acceptance to the deadline is used, none when the case is finished. */

export type DeadlineLevel = 'none' | 'yellow' | 'red'

const FINISHED = new Set(['closed', 'rated', 'rejected', 'verified'])
/** Finished cases: they never show a warning (a late close is a fact, 超期办结, not a warning). */
const DONE = new Set(['closed', 'rated', 'rejected'])
export const YELLOW_SHARE = 0.8

export interface DeadlineFacts {
  status: string
  due_at: string | null
  /** Working seconds left to `due_at` (negative: overdue by), from the server's working calendar. */
  remaining_work_seconds?: number | null
  work_day_seconds?: number
  closed_overdue?: boolean
  /** A department's own open step: its running deadline (report-in or completion). */
  own_step_due_at?: string | null
  own_step_kind?: 'report_in' | 'handle' | null
  own_step_remaining_work_seconds?: number | null
  accepted_at?: string | null
  created_at?: string | null
  suspended?: boolean
  warning_level?: DeadlineLevel | null
}

const LEVELS: DeadlineLevel[] = ['none', 'yellow', 'red']

export function deadlineLevel(facts: DeadlineFacts, now: Date = new Date()): DeadlineLevel {
  if (DONE.has(facts.status)) return 'none'
  if (facts.warning_level && LEVELS.includes(facts.warning_level)) return facts.warning_level
  return clockLevel(facts, now)
}

/** The wall-clock approximation (fallback when the server sends no `warning_level`). */
export function clockLevel(facts: DeadlineFacts, now: Date = new Date()): DeadlineLevel {
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

export interface Remaining {
  /** i18n key under `casework`: daysLeft, hoursLeft, daysOver, hoursOver. */
  key: 'daysLeft' | 'hoursLeft' | 'daysOver' | 'hoursOver'
  n: number
}

/** The remaining working time in words (the server's rule, cases/exports.py): whole working days from
 * one working day on, else working hours rounded up; negative seconds are overdue. */
export function remainingOf(seconds: number | null | undefined, daySeconds = 8 * 3600): Remaining | null {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return null
  const day = daySeconds > 0 ? daySeconds : 8 * 3600
  const late = seconds < 0
  const span = Math.abs(seconds)
  if (span >= day) return { key: late ? 'daysOver' : 'daysLeft', n: Math.max(1, Math.round(span / day)) }
  return { key: late ? 'hoursOver' : 'hoursLeft', n: span ? Math.max(1, Math.ceil(span / 3600)) : 0 }
}
