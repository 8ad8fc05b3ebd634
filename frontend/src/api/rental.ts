/** Rental housing (出租屋, issue 15) under /api/v1/rental: the houses of the user's area, filtered by area, grade,
 * category and due date, one house, recording an inspection, the figures per grade and category (drill down by area code),
 * the tenancy categories, the checklist, and the public page of a house code (no login). */
import type { Query } from './client'
import { api } from './index'
import type { Paged, Schemas } from './types'

export type RentalHouse = Schemas['RentalHouseOut']
export type RentalHouseDetail = Schemas['RentalHouseDetailOut']
export type Inspection = Schemas['InspectionOut']
export type InspectionIn = Schemas['InspectionIn']
export type ChecklistItem = Schemas['ChecklistItemOut']
export type RentalFigures = Schemas['RentalFiguresOut']
export type RentalFigureRow = Schemas['RentalFigureRow']
export type RentalActivity = Schemas['RentalActivityOut']
export type RentalActivityRow = Schemas['RentalActivityRow']
export type RentalPublicPage = Schemas['RentalPublicPageOut']
export type RentalCaseLink = Schemas['RentalCaseLinkOut']
export type TenancyCategory = Schemas['TenancyCategoryOut']
/** A rental import job and its row errors: the kernel's job shape, like the registry's. */
export type RentalImportJob = Omit<Schemas['ImportJobOut'], 'status'> & { status: 'queued' | 'running' | 'done' | 'rejected' | 'failed' }
export type RentalImportRowError = Schemas['ImportErrorOut']
/** 出租屋清单 (one row per rental house) and 既有分级 (one grading per house). */
export const RENTAL_IMPORT_KINDS = ['houses', 'gradings'] as const
export const RENTAL_IMPORT_MODES = ['all_or_nothing', 'valid_rows'] as const

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

export interface RentalPeriod {
  date_from?: string
  date_to?: string
}

export const rental = {
  houses: (filters: RentalHouseFilters = {}) => api.get<Paged<RentalHouse>>(`${BASE}/houses`, { ...filters }),
  house: (id: number) => api.get<RentalHouseDetail>(`${BASE}/houses/${id}`),
  inspect: (id: number, body: InspectionIn) => api.post<Inspection>(`${BASE}/houses/${id}/inspections`, body),
  figures: (area = '') => api.get<RentalFigures>(`${BASE}/figures`, area ? { area } : undefined),
  /** Inspections on time, hazards opened and closed in a period (default: the last 30 days), rectification open. */
  activity: (area = '', period: RentalPeriod = {}) =>
    api.get<RentalActivity>(`${BASE}/figures/activity`, { ...(area ? { area } : {}), ...period }),
  /** The figures as .xlsx (same area and period; GET with lib/download's downloadFile). */
  figuresXlsxPath: `${BASE}/figures.xlsx`,
  categories: () => api.get<TenancyCategory[]>(`${BASE}/categories`),
  checklist: () => api.get<ChecklistItem[]>(`${BASE}/checklist`),
  templateUrl: (kind: string, format: 'xlsx' | 'csv') => `${BASE}/imports/template?kind=${kind}&format=${format}`,
  startImport(file: File, kind: string, mode: string, onProgress?: (percent: number) => void) {
    const form = new FormData()
    form.append('file', file)
    form.append('kind', kind)
    form.append('mode', mode)
    return api.upload<RentalImportJob>(`${BASE}/imports`, form, onProgress)
  },
  imports: (query: Query = {}) => api.get<Paged<RentalImportJob>>(`${BASE}/imports`, query),
  importJob: (id: number) => api.get<RentalImportJob>(`${BASE}/imports/${id}`),
  importErrors: (id: number, query: Query = {}) => api.get<Paged<RentalImportRowError>>(`${BASE}/imports/${id}/errors`, query),
  errorWorkbookUrl: (job: RentalImportJob) => job.error_workbook_url || `${BASE}/imports/${job.id}/error-workbook`,
  /** The rental list as .xlsx with the list's filters (headings in the UI language). */
  exportPath: `${BASE}/houses.xlsx`,
  publicPage: (code: string) => api.get<RentalPublicPage>(`${BASE}/public/${encodeURIComponent(code)}`),
  /** GET the QR label sheet (PDF) here with lib/download's downloadFile: the list's filters, or `house` (an id). */
  labelsPath: `${BASE}/labels.pdf`,
}
