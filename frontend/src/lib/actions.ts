/** The form of every case action: which fields it asks for, which are required, and the request body.
 * The server decides which actions a user may take (`allowed_actions`); this only shapes the forms. */
import type { ActionBody, CaseDetail, StepOut } from '@/api/types'

export type ActionField =
  | 'category_code'
  | 'priority'
  | 'note'
  | 'reason'
  | 'target_case_number'
  | 'whistle_item_id'
  | 'departments'
  | 'step_id'
  | 'passed'
  | 'closing_type'
  | 'satisfaction'
  | 'comment'
  | 'level'
  | 'until'
  | 'attachments'

export interface ActionSpec {
  fields: ActionField[]
  required: ActionField[]
  /** A button in a warning colour (moves that end or undo work). */
  tone: 'primary' | 'warning' | 'danger' | 'default'
}

export const ACTIONS: Record<string, ActionSpec> = {
  accept: { fields: ['category_code', 'priority', 'note'], required: ['category_code'], tone: 'primary' },
  reject: { fields: ['reason', 'note'], required: ['reason'], tone: 'danger' },
  merge: { fields: ['target_case_number', 'note'], required: ['target_case_number'], tone: 'warning' },
  community_handle: { fields: ['note'], required: [], tone: 'primary' },
  whistle: { fields: ['whistle_item_id', 'departments', 'note'], required: [], tone: 'primary' },
  report_in: { fields: ['step_id', 'note'], required: [], tone: 'primary' },
  handle: { fields: ['step_id', 'note', 'attachments'], required: ['note'], tone: 'primary' },
  return: { fields: ['step_id', 'reason'], required: ['reason'], tone: 'danger' },
  reassign: { fields: ['step_id', 'departments', 'note'], required: ['step_id', 'departments'], tone: 'warning' },
  verify: { fields: ['passed', 'note', 'attachments'], required: ['passed'], tone: 'primary' },
  close: { fields: ['closing_type', 'reason', 'note'], required: [], tone: 'primary' },
  return_visit: { fields: ['satisfaction', 'comment'], required: ['satisfaction'], tone: 'primary' },
  supervise: { fields: ['level', 'step_id', 'note'], required: ['level'], tone: 'warning' },
  escalate: { fields: ['reason'], required: ['reason'], tone: 'warning' },
  request_suspension: { fields: ['reason'], required: ['reason'], tone: 'default' },
  suspend: { fields: ['note'], required: [], tone: 'warning' },
  defer: { fields: ['reason', 'until'], required: ['reason', 'until'], tone: 'warning' },
  resume: { fields: ['note'], required: [], tone: 'primary' },
  note: { fields: ['note', 'attachments'], required: ['note'], tone: 'default' },
}

/** The order of the buttons: the main move first. */
export const ACTION_ORDER = Object.keys(ACTIONS)

export function sortActions(actions: string[]): string[] {
  const known = actions.filter((a) => a in ACTIONS).sort((a, b) => ACTION_ORDER.indexOf(a) - ACTION_ORDER.indexOf(b))
  return [...known, ...actions.filter((a) => !(a in ACTIONS))]
}

export function specOf(action: string, c?: Pick<CaseDetail, 'category_code'> | null): ActionSpec {
  const spec = ACTIONS[action] ?? { fields: ['note'], required: [], tone: 'default' as const }
  // A category given at intake need not be chosen again when accepting.
  if (action === 'accept' && c?.category_code) return { ...spec, required: [] }
  return spec
}

export interface ActionValues {
  category_code?: string
  priority?: string
  note?: string
  reason?: string
  target_case_number?: string
  whistle_item_id?: number | null
  departments?: string[]
  step_id?: number | null
  passed?: boolean | null
  closing_type?: string
  satisfaction?: number | null
  comment?: string
  level?: string
  until?: string
  attachments?: string[]
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0) || v === 0
}

/** The required fields left empty. */
export function missingFields(spec: ActionSpec, values: ActionValues): ActionField[] {
  return spec.required.filter((f) => {
    const v = values[f as keyof ActionValues]
    return f === 'passed' ? v === null || v === undefined : isEmpty(typeof v === 'string' ? v.trim() : v)
  })
}

/** The request body: the version and only the fields of this action that have a value. */
export function actionBody(action: string, values: ActionValues, version: number): ActionBody {
  const spec = ACTIONS[action] ?? { fields: ['note'] as ActionField[] }
  const body: ActionBody = { version }
  for (const f of spec.fields) {
    const v = values[f as keyof ActionValues]
    if (f === 'passed') {
      if (typeof v === 'boolean') body.passed = v
      continue
    }
    if (isEmpty(typeof v === 'string' ? v.trim() : v)) continue
    ;(body as unknown as Record<string, unknown>)[f] = typeof v === 'string' ? v.trim() : v
  }
  return body
}

const OPEN_STEPS = ['pending_report_in', 'reported_in', 'in_progress']

/** The steps an action may name: a department's own steps in the right status, or any open step. */
export function stepChoices(action: string, steps: StepOut[], organisationCodes: string[]): StepOut[] {
  const mine = (s: StepOut) => organisationCodes.includes(s.target_code)
  switch (action) {
    case 'report_in':
      return steps.filter((s) => mine(s) && s.status === 'pending_report_in')
    case 'handle':
      return steps.filter((s) => mine(s) && (s.status === 'reported_in' || s.status === 'in_progress'))
    case 'return':
      return steps.filter((s) => mine(s) && OPEN_STEPS.includes(s.status))
    default:
      return steps.filter((s) => OPEN_STEPS.includes(s.status))
  }
}
