/** The registry (实有人口): residents, households, units, care groups, submissions, imports, exports and the
 * PII access log (`/api/v1/registry/…`). Personal values come masked unless `reveal=true` and the rule
 * allows it; the response names the still-masked fields in `masked`. */
import type { Query } from './client'
import { api } from './index'
import type { Paged, Schemas } from './types'

const BASE = '/api/v1/registry'

export const RESIDENCE_TYPES = ['registered', 'floating', 'tenant'] as const
export const UNIT_KINDS = ['company', 'shop', 'organisation'] as const
export const RELATIONS = ['head', 'spouse', 'child', 'parent', 'grandchild', 'other'] as const
export const IMPORT_KINDS = ['residents', 'houses', 'units'] as const
export const IMPORT_MODES = ['valid_rows', 'all_or_nothing'] as const
export const ACCESS_ACTIONS = ['view', 'export', 'search', 'care_view', 'error_file', 'register'] as const
export type ImportStatus = 'queued' | 'running' | 'done' | 'rejected' | 'failed'

export type Resident = Schemas['ResidentOut']

export type Household = Schemas['HouseholdOut']

export type Unit = Schemas['UnitOut']

export type HistoryEntry = Schemas['HistoryOut']

export type CareSummary = Schemas['CareSummaryOut']

export type CareMember = Schemas['CareMemberOut']

export type SubmissionData = Schemas['SubmissionData']

export type Submission = Schemas['SubmissionOut']

export type SubmissionIn = Schemas['SubmissionIn']

/** `status` narrowed to the values the screens know. */
export type ImportJob = Omit<Schemas['ImportJobOut'], 'status'> & { status: ImportStatus }

export type ImportRowError = Schemas['ImportErrorOut']

export type ExportIn = Schemas['ExportIn']

export type AccessLogEntry = Schemas['AccessLogOut']

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
  /** One submission; `reveal` shows the ID number and phone to a reader who may see them (logged). */
  submission: (id: number, reveal = false) => api.get<Submission>(`${BASE}/submissions/${id}`, reveal ? { reveal: true } : {}),
  submit: (body: SubmissionIn) => api.post<Submission>(`${BASE}/submissions`, body),
  approve: (id: number) => api.post<Submission>(`${BASE}/submissions/${id}/approve`),
  reject: (id: number, reason: string) => api.post<Submission>(`${BASE}/submissions/${id}/reject`, { reason }),
  templateUrl: (kind: string, format: 'xlsx' | 'csv') => `${BASE}/imports/template?kind=${kind}&format=${format}`,
  startImport(file: File, kind: string, mode: string, onProgress?: (percent: number) => void) {
    const form = new FormData()
    form.append('file', file, file.name)
    form.append('kind', kind)
    form.append('mode', mode)
    return api.upload<ImportJob>(`${BASE}/imports`, form, onProgress)
  },
  imports: (query: Query = {}) => api.get<Paged<ImportJob>>(`${BASE}/imports`, query),
  importJob: (id: number) => api.get<ImportJob>(`${BASE}/imports/${id}`),
  resumeImport: (id: number) => api.post<ImportJob>(`${BASE}/imports/${id}/resume`),
  importErrors: (id: number, query: Query = {}) => api.get<Paged<ImportRowError>>(`${BASE}/imports/${id}/errors`, query),
  errorWorkbookUrl: (job: ImportJob) => job.error_workbook_url || `${BASE}/imports/${job.id}/error-workbook`,
  /** POST the ExportIn body here (with lib/download's downloadFile) for the file. */
  exportPath: `${BASE}/exports`,
  accessLog: (query: Query = {}) => api.get<Paged<AccessLogEntry>>(`${BASE}/access-log`, query),
}
