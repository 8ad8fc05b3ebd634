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

// --- colours by meaning (issue 13, finding 8) ------------------------------------------------------------
/** Per indicator whether a rise is good (true), bad (false); counts that are neither are left out. */
export const UP_IS_GOOD: Record<string, boolean> = {
  on_time_close_rate: true,
  close_rate: true,
  satisfaction_rate: true,
  on_time_report_in_rate: true,
  on_time_handling_rate: true,
  community_share: true,
  rework_rate: false,
  overdue: false,
  mean_resolution: false,
  mean_report_in: false,
}

export type Tone = 'good' | 'bad' | 'flat'

/** What a change means: a fall of 返工率 is good, a fall of 按期结案率 bad; null without a change or for an
 * indicator that is neither good nor bad when it rises. */
export function changeTone(indicator: string, change: number | null | undefined): Tone | null {
  if (change === null || change === undefined || Number.isNaN(change)) return null
  if (change === 0) return 'flat'
  const upIsGood = UP_IS_GOOD[indicator]
  if (upIsGood === undefined) return null
  return change > 0 === upIsGood ? 'good' : 'bad'
}

/** Map colours: five classes from good (green) to poor (red) for rates, light to dark blue for counts. */
export const GOOD_TO_POOR = ['#1a9850', '#91cf60', '#fee08b', '#fc8d59', '#d73027']
export const COUNT_RAMP = ['#deebf7', '#9ecae1', '#6baed6', '#3182bd', '#08519c']
export const NO_DATA = '#8a99ad'

export interface MapScale {
  /** 'meaning': green is good; 'count': darker is more. */
  kind: 'meaning' | 'count'
  colours: string[]
  /** colours.length + 1 class bounds, lowest first. */
  breaks: number[]
}

/** The colour scale of an indicator over the values on the map: rates in fixed fifths (0–20 % … 80–100 %)
 * coloured by meaning (a high 返工率 red, a high 满意率 green); counts in five equal classes from 0. */
export function scaleFor(indicator: Indicator, values: Record<string, number>): MapScale {
  if (RATE_INDICATORS.includes(indicator)) {
    const colours = UP_IS_GOOD[indicator] === false ? [...GOOD_TO_POOR] : [...GOOD_TO_POOR].reverse()
    return { kind: 'meaning', colours, breaks: [0, 0.2, 0.4, 0.6, 0.8, 1] }
  }
  const max = Math.max(0, ...Object.values(values))
  const step = Math.max(1, Math.ceil(max / COUNT_RAMP.length))
  return { kind: 'count', colours: [...COUNT_RAMP], breaks: COUNT_RAMP.map((_, i) => i * step).concat(COUNT_RAMP.length * step) }
}

/** The colour of one value on a scale (no value: NO_DATA). */
export function colourOf(value: number | null | undefined, scale: MapScale): string {
  if (value === null || value === undefined || Number.isNaN(value)) return NO_DATA
  const last = scale.colours.length - 1
  for (let i = 0; i < last; i++) if (value < scale.breaks[i + 1]) return scale.colours[i]
  return scale.colours[last]
}

/** The colour of every area code on the map (codes without a value: NO_DATA). */
export function coloursFor(codes: string[], values: Record<string, number>, scale: MapScale): Record<string, string> {
  return Object.fromEntries(codes.map((c) => [c, colourOf(values[c], scale)]))
}

export interface LegendEntry {
  colour: string
  label: string
}

/** The legend of a scale: one entry per class ("0–20%", "20–40%" …; counts "0–4", "5–9" …) and "no data". */
export function legendFor(scale: MapScale, format: (v: number) => string, noData: string): LegendEntry[] {
  const entries = scale.colours.map((colour, i) => {
    const lo = scale.breaks[i]
    const hi = scale.breaks[i + 1]
    const label = scale.kind === 'count' ? `${format(lo)}–${format(Math.max(lo, hi - 1))}` : `${format(lo)}–${format(hi)}`
    return { colour, label }
  })
  return [...entries, { colour: NO_DATA, label: noData }]
}

// --- the drill-down in the URL (issue 13, finding 17) ----------------------------------------------------
const CODE = /^[0-9A-Za-z_-]{1,32}$/

/** The drill-down trail from the page's query (?trail=440309,440309002,…): valid codes only. */
export function trailFromQuery(value: unknown): string[] {
  const text = Array.isArray(value) ? value[0] : value
  if (typeof text !== 'string' || !text) return []
  return text.split(',').filter((c) => CODE.test(c)).slice(0, 6)
}

/** The query value of a trail of area codes. */
export const trailQuery = (codes: string[]) => codes.join(',')
