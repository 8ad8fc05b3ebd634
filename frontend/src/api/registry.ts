/** The registry (实有人口): residents, households, units, care groups, submissions, imports, exports and the
 * PII access log (`/api/v1/registry/…`). Personal values come masked unless `reveal=true` and the rule
 * allows it; the response names the still-masked fields in `masked`. */
import type { Query } from './client'
import { api } from './index'
import type { Paged } from './types'

const BASE = '/api/v1/registry'

export const RESIDENCE_TYPES = ['registered', 'floating', 'tenant'] as const
export const UNIT_KINDS = ['company', 'shop', 'organisation'] as const
export const RELATIONS = ['head', 'spouse', 'child', 'parent', 'grandchild', 'other'] as const
export const IMPORT_KINDS = ['residents', 'houses', 'units'] as const
export const IMPORT_MODES = ['valid_rows', 'all_or_nothing'] as const
export const ACCESS_ACTIONS = ['view', 'export', 'search', 'care_view', 'error_file'] as const
export type ImportStatus = 'queued' | 'running' | 'done' | 'rejected' | 'failed'

export interface Resident {
  id: number
  name: string
  gender: string
  birth_date: string | null
  id_number: string
  phone: string
  residence_type: string
  moved_in: string | null
  moved_out: string | null
  relation: string
  building_code: string
  address: string
  unit: string
  room: string
  household_id: number | null
  care_groups: string[] | null
  source: string
  version: number
  created_at: string
  updated_at: string
  masked: string[]
  /** Masked fields this user would see with reveal=true (a role of the area or a grant). */
  revealable: string[]
}

export interface Household {
  id: number
  number: string
  building_code: string
  address: string
  unit: string
  room: string
  head_id: number | null
  head_name: string | null
  member_count: number
}

export interface Unit {
  id: number
  name: string
  credit_code: string | null
  kind: string
  address: string
  building_code: string
  room: string
  contact_name: string
  phone: string
  employees: number
  source: string
  version: number
  masked: string[]
  revealable: string[]
}

export interface HistoryEntry {
  version: number
  action: string
  actor: string | null
  at: string
  changes: Record<string, unknown>
  submission_id: number | null
  note: string
}

export interface CareSummary {
  group: string
  label: string
  count: number
}

export interface CareMember {
  id: number
  resident_id: number
  name: string
  group: string
  since: string | null
  note: string
  building_code: string
  address: string
  room: string
}

export interface SubmissionData {
  name?: string | null
  id_number?: string | null
  gender?: string | null
  phone?: string | null
  residence_type?: string | null
  building_code?: string | null
  unit?: string | null
  room?: string | null
  household_no?: string | null
  relation?: string | null
  moved_in?: string | null
  moved_out?: string | null
  [key: string]: unknown
}

export interface Submission {
  id: number
  kind: string
  action: string
  status: string
  building_code: string
  target_id: number | null
  base_version: number | null
  data: SubmissionData
  submitted_by: string
  submitted_at: string
  reviewed_by: string | null
  reviewed_at: string | null
  reason: string
  result_id: number | null
}

export interface SubmissionIn {
  kind: 'resident' | 'unit'
  action: 'create' | 'update' | 'move_out'
  target_id?: number | null
  base_version?: number | null
  data: SubmissionData
}

export interface ImportJob {
  id: number
  kind: string
  mode: string
  status: ImportStatus
  phase: string
  file_name: string
  file_format: string
  encoding: string
  total: number
  processed: number
  percent: number
  inserted: number
  errors: number
  file_error: string | null
  error_workbook_url: string | null
  created_at: string
  started_at: string | null
  finished_at: string | null
  seconds: number
  rows_per_second: number | null
}

export interface ImportRowError {
  row: number
  column: string
  message: string
}

export interface ExportIn {
  kind: 'residents' | 'units' | 'households'
  format: 'xlsx' | 'csv'
  area?: string | null
  building?: string | null
  residence_type?: string | null
  reveal?: boolean
  purpose?: string
}

export interface AccessLogEntry {
  id: number
  at: string
  username: string
  action: string
  object_type: string
  object_ids: number[]
  count: number
  fields: string[]
  purpose: string
  endpoint: string
  source_ip: string | null
  detail: Record<string, unknown>
}

export interface ResidentFilters {
  q?: string
  id_number?: string
  phone?: string
  residence_type?: string
  area?: string
  building?: string
  care_group?: string
  household?: number
  page?: number
  page_size?: number
  reveal?: boolean
  purpose?: string
}

export const registry = {
  residents: (filters: ResidentFilters = {}) => api.get<Paged<Resident>>(`${BASE}/residents`, filters as Query),
  resident: (id: number, reveal = false, purpose = '') =>
    api.get<Resident>(`${BASE}/residents/${id}`, reveal ? { reveal: true, purpose } : {}),
  residentHistory: (id: number) => api.get<HistoryEntry[]>(`${BASE}/residents/${id}/history`),
  households: (query: Query = {}) => api.get<Paged<Household>>(`${BASE}/households`, query),
  household: (id: number) => api.get<Household>(`${BASE}/households/${id}`),
  units: (query: Query = {}) => api.get<Paged<Unit>>(`${BASE}/units`, query),
  careGroups: () => api.get<CareSummary[]>(`${BASE}/care-groups`),
  careMembers: (query: Query = {}) => api.get<Paged<CareMember>>(`${BASE}/care-members`, query),
  submissions: (query: Query = {}) => api.get<Paged<Submission>>(`${BASE}/submissions`, query),
  submit: (body: SubmissionIn) => api.post<Submission>(`${BASE}/submissions`, body),
  approve: (id: number) => api.post<Submission>(`${BASE}/submissions/${id}/approve`),
  reject: (id: number, reason: string) => api.post<Submission>(`${BASE}/submissions/${id}/reject`, { reason }),
  templateUrl: (kind: string, format: 'xlsx' | 'csv') => `${BASE}/imports/template?kind=${kind}&format=${format}`,
  startImport(file: File, kind: string, mode: string) {
    const form = new FormData()
    form.append('file', file, file.name)
    form.append('kind', kind)
    form.append('mode', mode)
    return api.request<ImportJob>('POST', `${BASE}/imports`, { form })
  },
  imports: (query: Query = {}) => api.get<Paged<ImportJob>>(`${BASE}/imports`, query),
  importJob: (id: number) => api.get<ImportJob>(`${BASE}/imports/${id}`),
  resumeImport: (id: number) => api.post<ImportJob>(`${BASE}/imports/${id}/resume`),
  importErrors: (id: number, query: Query = {}) => api.get<Paged<ImportRowError>>(`${BASE}/imports/${id}/errors`, query),
  errorWorkbookUrl: (job: ImportJob) => job.error_workbook_url || `${BASE}/imports/${job.id}/error-workbook`,
  exportFile: (body: ExportIn) => api.download('POST', `${BASE}/exports`, body),
  accessLog: (query: Query = {}) => api.get<Paged<AccessLogEntry>>(`${BASE}/access-log`, query),
}
