/** Rental housing on screen: the grades in order with their QR colours (龙岗: green / yellow / orange /
 * red), the checklist grouped as the inspection form shows it, and the list filters kept in the URL. */
import type { ChecklistItem } from '@/api/rental'

export const GRADES = ['relaxed', 'watch', 'strict', 'prohibited'] as const
export type GradeName = (typeof GRADES)[number]
/** The figures' columns: the four grades, then the houses never inspected. */
export const FIGURE_GRADES = [...GRADES, 'ungraded'] as const
export const CHECKLIST_GROUPS = ['hardware', 'compliance', 'hazards', 'hygiene'] as const

/** Background and text colour of a grade's tag (the QR label's colour); ungraded is grey. */
const PALETTE: Record<string, { bg: string; fg: string }> = {
  green: { bg: '#2e9d55', fg: '#ffffff' },
  yellow: { bg: '#f2c200', fg: '#3a2e00' },
  orange: { bg: '#e8730c', fg: '#ffffff' },
  red: { bg: '#c9302c', fg: '#ffffff' },
}
const GRADE_COLOUR: Record<string, string> = { relaxed: 'green', watch: 'yellow', strict: 'orange', prohibited: 'red' }
const GREY = { bg: '#909399', fg: '#ffffff' }

/** The colour of a grade (the server sends it too; this is for the figures' column heads). */
export function gradeColour(grade: string | null | undefined): string | null {
  return grade ? (GRADE_COLOUR[grade] ?? null) : null
}

export function gradeStyle(colour: string | null | undefined): { backgroundColor: string; color: string; borderColor: string } {
  const p = (colour && PALETTE[colour]) || GREY
  return { backgroundColor: p.bg, color: p.fg, borderColor: p.bg }
}

export interface ChecklistGroup {
  group: string
  items: ChecklistItem[]
}

/** The checklist in the form's order: the known groups first (as the rules list them), then any other. */
export function groupChecklist(items: ChecklistItem[]): ChecklistGroup[] {
  const order = (g: string) => {
    const i = (CHECKLIST_GROUPS as readonly string[]).indexOf(g)
    return i < 0 ? CHECKLIST_GROUPS.length : i
  }
  const groups: ChecklistGroup[] = []
  for (const item of items) {
    let g = groups.find((x) => x.group === item.group)
    if (!g) groups.push((g = { group: item.group, items: [] }))
    g.items.push(item)
  }
  return groups.sort((a, b) => order(a.group) - order(b.group))
}

export type Result = 'pass' | 'fail' | 'na'

/** The results to send: every item answered (pass by default), the failures marked. */
export function resultsOf(items: ChecklistItem[], answers: Record<string, Result | undefined>): Record<string, Result> {
  return Object.fromEntries(items.map((i) => [i.code, answers[i.code] ?? 'pass']))
}

const CODE = /^[0-9A-Za-z_-]{1,32}$/
export type HouseListFilter = { area: string; grade: string; category: string; due: '' | 'due' | 'overdue' }

/** The house list's filters from the page's query (invalid values are dropped). */
export function houseFiltersFromQuery(query: Record<string, unknown>): HouseListFilter {
  const one = (v: unknown) => (Array.isArray(v) ? v[0] : v)
  const code = (v: unknown) => {
    const s = one(v)
    return typeof s === 'string' && CODE.test(s) ? s : ''
  }
  const grade = code(query.grade)
  const due = one(query.due)
  return {
    area: code(query.area),
    grade: ([...FIGURE_GRADES] as string[]).includes(grade) ? grade : '',
    category: code(query.category),
    due: due === 'due' || due === 'overdue' ? due : '',
  }
}
