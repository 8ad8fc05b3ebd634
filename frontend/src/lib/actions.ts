/** The form of every case action: which fields it shows, its button colour, and the request body. The
 * server decides which actions a user may take and which fields each one requires on this case
 * (`CaseDetail.actions`, from its transition table); this file only shapes the forms. */
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

export interface ActionForm {
  fields: ActionField[]
  /** A button in a warning colour (moves that end or undo work). */
  tone: 'primary' | 'warning' | 'danger' | 'default'
}

export interface ActionSpec extends ActionForm {
  /** Every one of these must have a value (the server's list for this case). */
  required: ActionField[]
  /** At least one field of each group must have a value. */
  oneOf: ActionField[][]
}

export const ACTIONS: Record<string, ActionForm> = {
  accept: { fields: ['category_code', 'priority', 'note'], tone: 'primary' },
  reject: { fields: ['reason', 'note'], tone: 'danger' },
  merge: { fields: ['target_case_number', 'note'], tone: 'warning' },
  community_handle: { fields: ['note'], tone: 'primary' },
  whistle: { fields: ['whistle_item_id', 'departments', 'note'], tone: 'primary' },
  report_in: { fields: ['step_id', 'note'], tone: 'primary' },
  handle: { fields: ['step_id', 'note', 'attachments'], tone: 'primary' },
  return: { fields: ['step_id', 'reason'], tone: 'danger' },
  reassign: { fields: ['step_id', 'departments', 'note'], tone: 'warning' },
  verify: { fields: ['passed', 'note', 'attachments'], tone: 'primary' },
  close: { fields: ['closing_type', 'reason', 'note'], tone: 'primary' },
  return_visit: { fields: ['satisfaction', 'comment'], tone: 'primary' },
  follow_up: { fields: ['note', 'attachments'], tone: 'primary' },
  supervise: { fields: ['level', 'step_id', 'note'], tone: 'warning' },
  escalate: { fields: ['reason'], tone: 'warning' },
  request_suspension: { fields: ['reason'], tone: 'default' },
  suspend: { fields: ['note'], tone: 'warning' },
  defer: { fields: ['reason', 'until'], tone: 'warning' },
  resume: { fields: ['note'], tone: 'primary' },
  note: { fields: ['note', 'attachments'], tone: 'default' },
}

/** The order of the buttons: the main move first. */
export const ACTION_ORDER = Object.keys(ACTIONS)

export function sortActions(actions: string[]): string[] {
  const known = actions.filter((a) => a in ACTIONS).sort((a, b) => ACTION_ORDER.indexOf(a) - ACTION_ORDER.indexOf(b))
  return [...known, ...actions.filter((a) => !(a in ACTIONS))]
}

/** The form of `action` with the fields the server requires for it on this case (none when the server
 * did not send the action: it is not allowed, and the server will say so). */
export function specOf(action: string, c?: Pick<CaseDetail, 'actions'> | null): ActionSpec {
  const form = ACTIONS[action] ?? { fields: ['note'], tone: 'default' as const }
  const server = c?.actions?.find((a) => a.action === action)
  return {
    ...form,
    required: (server?.required ?? []) as ActionField[],
    oneOf: (server?.one_of ?? []) as ActionField[][],
  }
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

function missing(f: ActionField, values: ActionValues): boolean {
  const v = values[f as keyof ActionValues]
  return f === 'passed' ? v === null || v === undefined : isEmpty(typeof v === 'string' ? v.trim() : v)
}

/** The required fields left empty. */
export function missingFields(spec: ActionSpec, values: ActionValues): ActionField[] {
  return spec.required.filter((f) => missing(f, values))
}

/** The groups of which no field has a value (at least one is required). */
export function missingGroups(spec: ActionSpec, values: ActionValues): ActionField[][] {
  return spec.oneOf.filter((group) => group.every((f) => missing(f, values)))
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
