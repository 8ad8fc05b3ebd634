/** The grid engine's screens: status colours, the before/after table of a re-division proposal, the
 * marks of a unified grid in a department-layer overlay, and the areas a user may re-divide. */
import type { Area, HealthStatus, OverlayGrid, OverlayIssue, ProposalMetrics } from '@/api/types'

export const STATUS_COLOURS: Record<HealthStatus, string> = { below: '#e6a23c', within: '#67c23a', above: '#f56c6c' }
export const PROPOSED_COLOUR = '#c0392b'
export const CURRENT_COLOUR = '#409eff'

export function statusColour(status: unknown): string {
  return STATUS_COLOURS[status as HealthStatus] ?? '#c0c4cc'
}

export interface MetricRow {
  key: 'grids' | 'within' | 'mean_pp' | 'min_pp' | 'codes_kept'
  before: string
  after: string
  /** after − before where both are numbers (a better after is positive for every row but grids). */
  change: number | null
}

const num = (v: number | null | undefined) => (typeof v === 'number' && Number.isFinite(v) ? v : null)
const pp = (v: number | null | undefined) => (num(v) === null ? '—' : (v as number).toFixed(3))
const share = (n: number, of: number) => (of > 0 ? `${n} / ${of}（${Math.round((n / of) * 100)}%）` : `${n}`)

/** The before/after table of a proposal: grids, within bounds, mean and minimum compactness (Polsby–
 * Popper), codes kept. */
export function metricRows(m: ProposalMetrics): MetricRow[] {
  const diff = (a: number | null | undefined, b: number | null | undefined) =>
    num(a) !== null && num(b) !== null ? Math.round(((b as number) - (a as number)) * 10000) / 10000 : null
  return [
    { key: 'grids', before: String(m.grids_before), after: String(m.grids_after), change: diff(m.grids_before, m.grids_after) },
    { key: 'within', before: share(m.within_before, m.grids_before), after: share(m.within_after, m.grids_after), change: diff(m.within_before, m.within_after) },
    { key: 'mean_pp', before: pp(m.mean_pp_before), after: pp(m.mean_pp_after), change: diff(m.mean_pp_before, m.mean_pp_after) },
    { key: 'min_pp', before: pp(m.min_pp_before), after: pp(m.min_pp_after), change: diff(m.min_pp_before, m.min_pp_after) },
    { key: 'codes_kept', before: '—', after: share(m.codes_kept, m.grids_after), change: null },
  ]
}

export type OverlayMark = 'split' | 'gap' | 'sliver'

/** The marks of a unified grid: split between department grids, not covered (gap), slivers. */
export function overlayMarks(g: Pick<OverlayGrid, 'split' | 'gap' | 'slivers'>): OverlayMark[] {
  const out: OverlayMark[] = []
  if (g.split) out.push('split')
  if (g.gap) out.push('gap')
  if (g.slivers.length) out.push('sliver')
  return out
}

/** The colour of a unified grid on the overlay map: worst mark first. */
export function overlayColour(g: Pick<OverlayGrid, 'split' | 'gap' | 'slivers'> | undefined): string {
  if (!g) return '#c0c4cc'
  if (g.gap) return '#f56c6c'
  if (g.split) return '#e6a23c'
  if (g.slivers.length) return '#b37feb'
  return '#67c23a'
}

/** The department codes an issue names (split: several; sliver: one). */
export function issueDepartments(issue: OverlayIssue): string[] {
  const d = issue.detail ?? {}
  if (Array.isArray(d.departments)) return d.departments.map(String)
  if (typeof d.department_code === 'string') return [d.department_code]
  return []
}

/** Areas a user may re-divide: subdistricts, communities and blocks (not districts or grids). */
export const REDIVIDABLE_LEVELS = ['subdistrict', 'community', 'block']

export function redividable(areas: Pick<Area, 'level'>[]): boolean {
  return areas.some((a) => REDIVIDABLE_LEVELS.includes(a.level))
}

/** A figure as a percentage (0.7688 → "76.9%"), or "—". */
export function percent(v: number | null | undefined, digits = 1): string {
  return num(v) === null ? '—' : `${((v as number) * 100).toFixed(digits)}%`
}
