/** Rental housing (出租屋, issue 15) under /api/v1/rental: the houses of the user's area, filtered by area, grade,
 * category and due date, one house, recording an inspection, the figures per grade and category (drill down by area code),
 * the tenancy categories, the checklist, and the public page of a house code (no login). */
import { api } from './index'
import type { Paged, Schemas } from './types'

export type RentalHouse = Schemas['RentalHouseOut']
export type RentalHouseDetail = Schemas['RentalHouseDetailOut']
export type Inspection = Schemas['InspectionOut']
export type InspectionIn = Schemas['InspectionIn']
export type ChecklistItem = Schemas['ChecklistItemOut']
export type RentalFigures = Schemas['RentalFiguresOut']
export type RentalFigureRow = Schemas['RentalFigureRow']
export type RentalPublicPage = Schemas['RentalPublicPageOut']
export type RentalCaseLink = Schemas['RentalCaseLinkOut']
export type TenancyCategory = Schemas['TenancyCategoryOut']

export interface RentalHouseFilters {
  area?: string
  grade?: string
  category?: string
  /** due: due within 7 days or overdue; overdue: past the due date (both most overdue first) */
  due?: 'due' | 'overdue'
  page?: number
  page_size?: number
}

const BASE = '/api/v1/rental'

export const rental = {
  houses: (filters: RentalHouseFilters = {}) => api.get<Paged<RentalHouse>>(`${BASE}/houses`, { ...filters }),
  house: (id: number) => api.get<RentalHouseDetail>(`${BASE}/houses/${id}`),
  inspect: (id: number, body: InspectionIn) => api.post<Inspection>(`${BASE}/houses/${id}/inspections`, body),
  figures: (area = '') => api.get<RentalFigures>(`${BASE}/figures`, area ? { area } : undefined),
  categories: () => api.get<TenancyCategory[]>(`${BASE}/categories`),
  checklist: () => api.get<ChecklistItem[]>(`${BASE}/checklist`),
  publicPage: (code: string) => api.get<RentalPublicPage>(`${BASE}/public/${encodeURIComponent(code)}`),
  /** GET the QR label sheet (PDF) here with lib/download's downloadFile: the list's filters, or `house` (an id). */
  labelsPath: `${BASE}/labels.pdf`,
}
