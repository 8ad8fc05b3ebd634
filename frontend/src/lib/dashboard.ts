/** The dashboard's logic: the levels of the drill-down, the figures rows of the child areas (from
 * GET /cases/figures/by-area), and the map values and rankings made from them. */
import type { FiguresRow, RateKey } from '@/api/types'

export const CHILD_LEVEL: Record<string, string | null> = { district: 'subdistrict', subdistrict: 'community', community: 'grid', block: 'grid', grid: null }
export const OPEN_STATUSES = ['submitted', 'accepted', 'community_handling', 'whistled', 'in_progress', 'handled', 'verified']

/** The map indicators: counts and rates of the figures rows, or the households of the map's features. */
export const INDICATORS = ['reported', 'closed', 'on_time_close_rate', 'satisfaction_rate', 'rework_rate', 'households'] as const
export type Indicator = (typeof INDICATORS)[number]
export const RATE_INDICATORS: Indicator[] = ['on_time_close_rate', 'satisfaction_rate', 'rework_rate']

type RowsOf = (parent: string) => Promise<FiguresRow[]>

/** The rows of the areas at `level` below `parent`: the children of `parent`, or, where the tree has a
 * level between (a community's blocks between it and its grids), the children of each of those. */
export async function rowsAtLevel(parent: string, level: string, rowsOf: RowsOf, depth = 2): Promise<FiguresRow[]> {
  const rows = await rowsOf(parent)
  if (depth <= 0 || !rows.length || rows.every((r) => r.level === level)) return rows
  const nested = await Promise.all(rows.map((r) => (r.level === level ? Promise.resolve([r]) : rowsAtLevel(r.code, level, rowsOf, depth - 1))))
  return nested.flat()
}

/** The value of an indicator per area code (rates 0…1; null rates left out). */
export function valuesFor(rows: FiguresRow[], indicator: Indicator, households: Record<string, number> = {}): Record<string, number> {
  if (indicator === 'households') return { ...households }
  const out: Record<string, number> = {}
  for (const r of rows) {
    const v = RATE_INDICATORS.includes(indicator) ? r.rates[indicator as RateKey] : (r.counts as Record<string, number>)[indicator]
    if (v !== null && v !== undefined) out[r.code] = v
  }
  return out
}

/** A ranking by a rate: highest first, areas without the rate (nothing to measure) last. */
export function rankBy(rows: FiguresRow[], rate: RateKey, minimum: (r: FiguresRow) => number = () => 1): FiguresRow[] {
  return rows
    .filter((r) => minimum(r) > 0)
    .sort((a, b) => (b.rates[rate] ?? -1) - (a.rates[rate] ?? -1) || b.counts.reported - a.counts.reported || a.code.localeCompare(b.code))
}
