/** The one API client of the app, and typed calls per endpoint. */
import { ApiClient, type Query } from './client'
import type {
  ActionBody,
  Area,
  AreaCollection,
  AreaDetail,
  Attachment,
  Building,
  CaseDetail,
  CaseOut,
  Category,
  CategorySuggestion,
  AdoptSummary,
  DepartmentLayer,
  Duplicate,
  DuplicatePreviewBody,
  Figures,
  FiguresCategory,
  FiguresDay,
  FiguresRow,
  Health,
  LayeredCollection,
  Overlay,
  Proposal,
  ProposalDetail,
  House,
  IntakeBody,
  Located,
  Me,
  Notification,
  Organisation,
  Paged,
  WhistleItem,
} from './types'

export { ApiError } from './client'

const hooks: { language: () => string; onSessionEnded?: (code: string, message: string) => void } = {
  language: () => 'zh-CN',
}

export const api = new ApiClient({
  language: () => hooks.language(),
  onSessionEnded: (code, message) => hooks.onSessionEnded?.(code, message),
})

export function configureApi(language: () => string, onSessionEnded: (code: string, message: string) => void) {
  hooks.language = language
  hooks.onSessionEnded = onSessionEnded
}

export interface CaseFilters {
  status?: string[]
  category?: string
  area?: string
  department?: string
  overdue?: boolean
  channel?: string
  created_from?: string
  created_to?: string
  /** A case number (or its beginning) or words of the description. */
  q?: string
  /** A reporter's phone, the case's own or of a case merged into it (matched by its keyed hash on the
   * server; the search is logged). */
  phone?: string
  /** Only the cases waiting on the requesting user (the workbench to-dos). */
  todo?: boolean
  /** Only the cases the requesting user reported or registered (我的上报). */
  mine?: boolean
  /** `due`: deadline first, cases without one last; `created` (the default): newest first. */
  order?: 'due' | 'created'
  /** Each case with `allowed_actions` (a task list needs no request per case). */
  actions?: boolean
  page?: number
  page_size?: number
}

export const auth = {
  me: () => api.get<Me>('/api/v1/auth/me'),
  /** Keep the user's language on the account (web app at the next login, notifications). */
  setLanguage: (language: Me['preferred_language']) =>
    api.request<Me>('PATCH', '/api/v1/auth/me', { body: { language } }),
  async login(username: string, password: string, totp?: string) {
    await api.refreshCsrf()
    const me = await api.request<Me>('POST', '/api/v1/auth/login', {
      body: { username, password, ...(totp ? { totp } : {}) },
      quiet401: true,
    })
    api.loggedIn = true
    await api.refreshCsrf() // login rotates the token
    return me
  },
  /** The user's own new password (required after an administrator set it: `password_change_required`). */
  changePassword: (old_password: string, new_password: string) =>
    api.post<void>('/api/v1/auth/password', { old_password, new_password }),
  async logout() {
    try {
      await api.request('POST', '/api/v1/auth/logout', { quiet401: true })
    } finally {
      api.loggedIn = false
    }
  },
}

export const cases = {
  list: (filters: CaseFilters = {}) => api.get<Paged<CaseOut>>('/api/v1/cases/cases', filters as Query),
  /** Every page of a filtered list, up to `max` cases (pages of `pageSize`). */
  async all(filters: CaseFilters, max = 5000, pageSize = 1000): Promise<{ items: CaseOut[]; count: number }> {
    const first = await cases.list({ ...filters, page: 1, page_size: pageSize })
    const items = [...first.items]
    const pages = Math.min(Math.ceil(first.count / pageSize), Math.ceil(max / pageSize))
    const rest = await Promise.all(
      Array.from({ length: Math.max(0, pages - 1) }, (_, i) => cases.list({ ...filters, page: i + 2, page_size: pageSize })),
    )
    for (const page of rest) items.push(...page.items)
    return { items, count: first.count }
  },
  count: async (filters: CaseFilters) => (await cases.list({ ...filters, page_size: 1 })).count,
  get: (id: number) => api.get<CaseDetail>(`/api/v1/cases/cases/${id}`),
  /** The whole filtered list as .xlsx, made on the server (GET; masked by role; logged). */
  exportPath: '/api/v1/cases/cases/export',
  /** The printable 工单 / 督办单 (PDF). */
  printPath: (id: number, sheet: 'work-order' | 'supervision') => `/api/v1/cases/cases/${id}/print/${sheet}`,
  /** The case with the reporter's name and phone unmasked (allowed roles only; the server logs the view). */
  reveal: (id: number) => api.get<CaseDetail>(`/api/v1/cases/cases/${id}`, { reveal: true }),
  intake: (body: IntakeBody, idempotencyKey: string) =>
    api.post<CaseOut>('/api/v1/cases/cases', body, { headers: { 'Idempotency-Key': idempotencyKey } }),
  act: (id: number, action: string, body: ActionBody) =>
    api.post<CaseDetail>(`/api/v1/cases/cases/${id}/actions/${action}`, body),
  /** Staff: duplicate candidates of a report not yet submitted. */
  duplicatesPreview: (body: DuplicatePreviewBody) => api.post<Duplicate[]>('/api/v1/cases/duplicates-preview', body),
  duplicates: (id: number) => api.get<Duplicate[]>(`/api/v1/cases/cases/${id}/duplicates`),
  suggest: (text: string) => api.post<CategorySuggestion[]>('/api/v1/cases/suggest-category', { text }),
  categories: () => api.get<Category[]>('/api/v1/cases/categories'),
  whistleItems: () => api.get<WhistleItem[]>('/api/v1/cases/whistle-items'),
  notifications: (query: Query = {}) => api.get<Paged<Notification>>('/api/v1/cases/notifications', query),
  readNotification: (id: number) => api.post<void>(`/api/v1/cases/notifications/${id}/read`),
  figures: (query: { date_from: string; date_to: string; area?: string; department?: string; category?: string }) =>
    api.get<Figures>('/api/v1/cases/figures', query),
  /** The figures of every visible child of `parent` (one row per area). */
  figuresByArea: (query: { date_from: string; date_to: string; parent: string; category?: string }) =>
    api.get<FiguresRow[]>('/api/v1/cases/figures/by-area', query),
  /** Cases reported and closed on every day of the period (the trend). */
  figuresByDay: (query: { date_from: string; date_to: string; area?: string; department?: string; category?: string }) =>
    api.get<FiguresDay[]>('/api/v1/cases/figures/by-day', query),
  /** Cases reported and closed per 大类, most reported first ('' = not yet classified). */
  figuresByCategory: (query: { date_from: string; date_to: string; area?: string; department?: string }) =>
    api.get<FiguresCategory[]>('/api/v1/cases/figures/by-category', query),
  /** The figures of every department with steps on the visible cases. */
  figuresByDepartment: (query: { date_from: string; date_to: string; area?: string; category?: string }) =>
    api.get<FiguresRow[]>('/api/v1/cases/figures/by-department', query),
  upload(file: Blob, name = 'photo.jpg', onProgress?: (percent: number) => void) {
    const form = new FormData()
    form.append('file', file, name)
    return api.upload<Attachment>('/api/v1/cases/attachments', form, onProgress)
  },
  attachmentUrl: (id: string) => `/api/v1/cases/attachments/${id}`,
}

export const territory = {
  mine: () => api.get<Area[]>('/api/v1/territory/areas/mine'),
  area: (code: string) => api.get<AreaDetail>(`/api/v1/territory/areas/${code}`),
  children: (code: string) => api.get<Area[]>(`/api/v1/territory/areas/${code}/children`),
  geojson: (level: string, parent?: string) =>
    api.get<AreaCollection>('/api/v1/territory/geojson', { level, parent }),
  locate: (lng: number, lat: number, crs: string) => api.get<Located>('/api/v1/territory/locate', { lng, lat, crs }),
  buildings: (query: Query) => api.get<Paged<Building>>('/api/v1/territory/buildings', query),
  houses: (code: string, query: Query = {}) =>
    api.get<Paged<House>>(`/api/v1/territory/buildings/${code}/houses`, query),
}

/** The grid engine: health check, re-division proposals, department layers (多网合一). */
export const gridEngine = {
  health: (query: { area?: string; all?: boolean } = {}) => api.get<Health>('/api/v1/territory/health', query),
  healthGeojson: (query: { area?: string; only_out?: boolean } = {}) =>
    api.get<LayeredCollection>('/api/v1/territory/health/geojson', query),
  propose: (areaCode: string) => api.post<ProposalDetail>('/api/v1/territory/proposals', { area_code: areaCode }),
  proposals: (query: Query = {}) => api.get<Paged<Proposal>>('/api/v1/territory/proposals', { page_size: 50, ...query }),
  proposal: (id: number) => api.get<ProposalDetail>(`/api/v1/territory/proposals/${id}`),
  proposalGeojson: (id: number) => api.get<LayeredCollection>(`/api/v1/territory/proposals/${id}/geojson`),
  adopt: (id: number) => api.post<AdoptSummary>(`/api/v1/territory/proposals/${id}/adopt`),
  discard: (id: number) => api.post<Proposal>(`/api/v1/territory/proposals/${id}/discard`),
  importLayer(
    fields: { file: File; name: string; crs: string; organisation_code?: string; code_field?: string; name_field?: string },
    onProgress?: (percent: number) => void,
  ) {
    const form = new FormData()
    form.append('file', fields.file, fields.file.name)
    for (const key of ['name', 'crs', 'organisation_code', 'code_field', 'name_field'] as const) {
      const v = fields[key]
      if (v) form.append(key, v)
    }
    return api.upload<DepartmentLayer>('/api/v1/territory/layers', form, onProgress)
  },
  layers: (query: Query = {}) => api.get<Paged<DepartmentLayer>>('/api/v1/territory/layers', { page_size: 100, ...query }),
  layer: (id: number) => api.get<DepartmentLayer>(`/api/v1/territory/layers/${id}`),
  overlay: (id: number, area?: string) => api.get<Overlay>(`/api/v1/territory/layers/${id}/overlay`, { area }),
  overlayXlsxUrl: (id: number, area?: string) => `/api/v1/territory/layers/${id}/overlay.xlsx${area ? `?area=${encodeURIComponent(area)}` : ''}`,
  /** The department grids themselves (not in the API yet: answers 404, and the map shows the unified grids only). */
  layerGeojson: (id: number) => api.get<LayeredCollection>(`/api/v1/territory/layers/${id}/geojson`),
}

export const accounts = {
  departments: () =>
    api.get<Paged<Organisation>>('/api/v1/accounts/organisations', { kind: 'department', page_size: 200 }),
  organisations: (query: Query = {}) => api.get<Paged<Organisation>>('/api/v1/accounts/organisations', query),
}
