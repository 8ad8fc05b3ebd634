/** Star safe buildings and compounds (星级安全楼栋 / 星级安全小区, issue 15) under /api/v1/rental/stars: the sites
 * of the user's area (filters area, stars, status, kind), one site with its applications, assessments and
 * history, the workflow steps (apply, assess, award, review, withdraw), the counts per area and star with
 * drill-down, compounds, the star criteria, and the public list of awarded sites (no login). */
import { api } from './index'
import type { Paged, Schemas } from './types'

export type StarSite = Schemas['StarSiteOut']
export type StarSiteDetail = Schemas['StarSiteDetailOut']
export type StarCounts = Schemas['StarCountsOut']
export type StarCountsRow = Schemas['StarCountsRow']
export type StarPublic = Schemas['StarPublicOut']
export type StarCriterion = Schemas['StarCriterionOut']
export type Compound = Schemas['CompoundOut']
export type StarApplyIn = Schemas['StarApplyIn']
export type CompoundIn = Schemas['CompoundIn']

export interface StarSiteFilters {
  area?: string
  stars?: number
  status?: string
  kind?: string
  page?: number
  page_size?: number
}

const BASE = '/api/v1/rental/stars'

export const rentalStars = {
  sites: (filters: StarSiteFilters = {}) => api.get<Paged<StarSite>>(BASE, { ...filters }),
  site: (id: number) => api.get<StarSiteDetail>(`${BASE}/${id}`),
  apply: (body: StarApplyIn) => api.post<StarSiteDetail>(BASE, body),
  assess: (id: number, scores: Record<string, number>, note = '') => api.post<StarSiteDetail>(`${BASE}/${id}/assess`, { scores, note }),
  award: (id: number, note = '') => api.post<StarSiteDetail>(`${BASE}/${id}/award`, { note }),
  review: (id: number, note = '') => api.post<StarSiteDetail>(`${BASE}/${id}/review`, { note }),
  withdraw: (id: number, reason: string) => api.post<StarSiteDetail>(`${BASE}/${id}/withdraw`, { reason }),
  counts: (area = '') => api.get<StarCounts>(`${BASE}/counts`, area ? { area } : undefined),
  compounds: (community = '') => api.get<Paged<Compound>>(`${BASE}/compounds`, { page_size: 100, ...(community ? { community } : {}) }),
  createCompound: (body: CompoundIn) => api.post<Compound>(`${BASE}/compounds`, body),
  publicList: (filters: { community?: string; stars?: number; page?: number; page_size?: number } = {}) =>
    api.get<Paged<StarPublic>>(`${BASE}/public`, { ...filters }),
}
