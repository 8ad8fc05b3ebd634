/** Client-side aggregation for the dashboard: the levels of the drill-down and tallies of a case list. */
import type { CaseOut } from '@/api/types'

export const LEVEL_DIGITS: Record<string, number> = { district: 6, subdistrict: 9, community: 12, grid: 15 }
export const CHILD_LEVEL: Record<string, string | null> = { district: 'subdistrict', subdistrict: 'community', community: 'grid', block: 'grid', grid: null }
export const OPEN_STATUSES = ['submitted', 'accepted', 'community_handling', 'whistled', 'in_progress', 'handled', 'verified']

/** The code of the area at `level` that contains a case (codes nest: a grid code starts with its
 * community's, which starts with its subdistrict's). */
export function areaAtLevel(c: Pick<CaseOut, 'grid_code' | 'area_code'>, level: string): string | null {
  const digits = LEVEL_DIGITS[level]
  const code = c.grid_code ?? c.area_code
  if (!digits || !code || code.length < digits) return null
  return code.slice(0, digits)
}

export function tallyBy<T>(items: T[], key: (item: T) => string | null): Record<string, number> {
  const out: Record<string, number> = {}
  for (const item of items) {
    const k = key(item)
    if (k) out[k] = (out[k] ?? 0) + 1
  }
  return out
}

/** Every date from `from` to `to` inclusive ("YYYY-MM-DD"). */
export function dateRange(from: string, to: string): string[] {
  const out: string[] = []
  const d = new Date(`${from}T00:00:00Z`)
  const end = new Date(`${to}T00:00:00Z`)
  while (d <= end && out.length < 1200) {
    out.push(d.toISOString().slice(0, 10))
    d.setUTCDate(d.getUTCDate() + 1)
  }
  return out
}
