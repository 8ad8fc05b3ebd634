/** Shapes of the GridGov API (see /api/openapi.json). Only what the screens read. */

export interface Paged<T> {
  items: T[]
  count: number
}

export interface RoleOut {
  role: string
  role_label: string
  area_code: string | null
  area_name: string | null
  area_level: string | null
  organisation_code: string | null
  organisation_name: string | null
}

export interface Me {
  id: number
  username: string
  display_name: string
  roles: RoleOut[]
  scope: { kind: string; kinds: string[]; area_codes: string[]; organisation_codes: string[] }
  totp_enabled: boolean
  mfa_enrolment_required: boolean
  language: string
  session_idle_seconds: number
}

export type CaseStatus =
  | 'submitted'
  | 'accepted'
  | 'rejected'
  | 'community_handling'
  | 'whistled'
  | 'in_progress'
  | 'handled'
  | 'verified'
  | 'closed'
  | 'rated'

export const CASE_STATUSES: CaseStatus[] = [
  'submitted',
  'accepted',
  'community_handling',
  'whistled',
  'in_progress',
  'handled',
  'verified',
  'closed',
  'rated',
  'rejected',
]

export const CHANNELS = ['window', 'hotline', 'resident_app', 'patrol', 'building_head', 'device', 'external_api'] as const
export type Channel = (typeof CHANNELS)[number]
export const CASE_KINDS = ['demand', 'hazard', 'dispute', 'petition', 'alarm'] as const
export type Crs = 'wgs84' | 'gcj02' | 'bd09'

export interface CaseOut {
  id: number
  number: string
  kind: string
  channel: string
  status: CaseStatus
  version: number
  priority: string
  description: string
  reporter_name: string
  reporter_phone: string
  lng: number | null
  lat: number | null
  input_crs: string
  grid_code: string | null
  area_code: string
  address: string
  category_code: string | null
  category_name: string | null
  due_at: string | null
  accepted_at: string | null
  closed_at: string | null
  holder_area_code: string | null
  holder_organisation_code: string | null
  merged_into_number: string | null
  closing_type: string
  rework_count: number
  supervision: string
  /** The server's working-time deadline sweep: yellow at 80 % of the time, red once overdue. */
  warning_level?: 'none' | 'yellow' | 'red'
  suspension_requested: boolean
  suspended: boolean
  deferred: boolean
  deferred_until: string | null
  satisfaction: number | null
  satisfaction_comment: string
  attachments: string[]
  created_at: string
  updated_at: string
}

export interface StepOut {
  id: number
  kind: string
  status: string
  source_area_code: string | null
  target_code: string
  target_name: string
  report_in_due_at: string | null
  reported_in_at: string | null
  due_at: string | null
  handled_at: string | null
  overdue: boolean
  supervision: string
  rework_count: number
  feedback: string
  return_reason: string
}

export interface TimelineEvent {
  id: number
  at: string
  actor: string | null
  action: string
  from_status: string
  to_status: string
  note: string
  data: Record<string, unknown>
  attachments: string[]
}

export interface CaseDetail extends CaseOut {
  steps: StepOut[]
  timeline: TimelineEvent[]
  allowed_actions: string[]
  merged_reporter_count: number
}

export interface Category {
  code: string
  name: string
  kind: string
  parent_code?: string | null
  department_code: string | null
  open_condition: string
  close_condition: string
  resolution_limit: number
  resolution_unit: string
  children?: Category[]
}

export interface WhistleItem {
  id: number
  group: string
  name: string
  department_codes: string[]
}

export interface Organisation {
  code: string
  name: string
  kind: string
  kind_label: string
  area_code: string | null
  area_name: string | null
  is_active: boolean
}

export interface Notification {
  id: number
  kind: string
  message: string
  case_id: number
  case_number: string
  data: Record<string, unknown>
  created_at: string
  read_at: string | null
}

export interface Duplicate {
  case_id: number
  number: string
  score: number
  distance_m: number | null
  hours_apart: number | null
  text_similarity: number
  same_category: boolean | null
  status: string
  description: string
}

export interface CategorySuggestion {
  code: string
  name: string
  score: number
}

export interface Attachment {
  id: string
  content_type: string
  size: number
  width: number
  height: number
  url: string
}

export interface Area {
  code: string
  name: string
  level: string
  level_label: string
  parent_code: string | null
  path: string
  households: number
  bbox?: number[] | null
}

export interface AreaDetail extends Area {
  geometry: GeoJSON.Geometry | null
}

export interface AreaFeatureProps {
  code: string
  name: string
  level: string
  households: number
  parent_code: string | null
}

export type AreaCollection = GeoJSON.FeatureCollection<GeoJSON.Geometry, AreaFeatureProps>

export interface Building {
  code: string
  name: string
  address: string
  grid_code: string
  lng: number
  lat: number
  floors: number
  kind: string
  kind_label: string
  households: number
}

export interface House {
  id: number
  building_code: string
  unit: string
  floor: number
  room: string
  use: string
  use_label: string
  households: number
}

export interface Located {
  grid: { code: string; name: string }
  community: { code: string; name: string } | null
  subdistrict: { code: string; name: string } | null
  point: { lng: number; lat: number; crs: string }
}

export type RateKey =
  | 'on_time_close_rate'
  | 'close_rate'
  | 'rework_rate'
  | 'on_time_report_in_rate'
  | 'on_time_handling_rate'
  | 'satisfaction_rate'
  | 'community_share'

export interface Figures {
  date_from: string
  date_to: string
  counts: Record<string, number>
  rates: Record<RateKey, number | null>
  mean_report_in_hours: number | null
  mean_resolution_hours: number | null
  change: Record<string, { current: number | null; previous: number | null; year_ago: number | null }>
}

/** The body of a case action (POST /cases/{id}/actions/{action}). */
export interface ActionBody {
  version: number
  note?: string
  attachments?: string[]
  departments?: string[]
  whistle_item_id?: number
  step_id?: number
  reason?: string
  passed?: boolean
  closing_type?: string
  satisfaction?: number
  comment?: string
  level?: string
  target_case_number?: string
  category_code?: string
  priority?: string
  until?: string
}

export interface IntakeBody {
  description: string
  kind?: string
  channel?: string
  lng?: number
  lat?: number
  crs?: Crs
  area_code?: string
  address?: string
  reporter_name?: string
  reporter_phone?: string
  priority?: string
  category_code?: string
  attachments?: string[]
}

/** One row of GET /cases/figures/by-area or /figures/by-department. */
export interface FiguresDay {
  date: string
  reported: number
  closed: number
}

export interface FiguresCategory {
  code: string
  name: string
  reported: number
  closed: number
}

export interface FiguresRow {
  code: string
  name: string
  level: string
  date_from: string
  date_to: string
  counts: Record<string, number>
  rates: Record<RateKey, number | null>
  mean_report_in_hours: number | null
  mean_resolution_hours: number | null
}

export interface DuplicatePreviewBody {
  description: string
  lng?: number
  lat?: number
  crs?: Crs
  area_code?: string
  category_code?: string
}

/* Grid engine: health, re-division, 多网合一 (docs/territory.md). */
export type HealthStatus = 'below' | 'within' | 'above'

export interface HealthSummary {
  code: string
  name: string
  grids: number
  grids_below: number
  grids_within: number
  grids_above: number
  communities: number
  communities_below: number
  communities_within: number
  communities_above: number
}

export interface HealthRow {
  code: string
  name: string
  households: number
  status: HealthStatus
  parent_code: string | null
}

export interface Health {
  grid_bounds: number[]
  community_bounds: number[]
  by_subdistrict: HealthSummary[]
  grids: HealthRow[]
  communities: HealthRow[]
}

export interface ProposalMetrics {
  grids_before: number
  grids_after: number
  within_before: number
  within_after: number
  mean_pp_before: number | null
  min_pp_before: number | null
  mean_pp_after: number | null
  min_pp_after: number | null
  codes_kept: number
  buildings?: number
  households?: number
  [extra: string]: number | null | undefined
}

export interface Proposal {
  id: number
  area_code: string
  group_level: string
  lo: number
  hi: number
  status: string
  metrics: ProposalMetrics
  created_by: string | null
  created_at: string
  decided_at: string | null
}

export interface ProposalGrid {
  key: string
  code: string | null
  group: string
  households: number
  buildings: number[]
  status: HealthStatus
}

export interface ProposalBefore {
  code: string
  name: string
  households: number
  status: HealthStatus
}

export interface ProposalDetail extends Proposal {
  grids: ProposalGrid[]
  before: ProposalBefore[]
  oversize: ProposalOversize[]
  infeasible: ProposalInfeasible[]
  relaxed: ProposalRelaxed[]
}

/** A building with more households than a grid may hold: a grid of its own. */
export interface ProposalOversize {
  building: number
  building_code: string
  group: string
  households: number
  grid: string
}

/** A group (or a part of it) that cannot be split within bounds, with the reason. */
export interface ProposalInfeasible {
  group: string
  reason: string
  households: number
  buildings: number
  part_of_group: boolean
  detail: string
  building: number | null
  building_code: string
  must_share: number | null
  behind: number | null
}

/** A group split within bounds only after links longer than the usual distance were allowed. */
export interface ProposalRelaxed {
  group: string
  usual_edge: number
  max_edge: number
  longest_link: number
  grids: number
  proved: boolean
  /** When proved: the building through which must_share households (behind buildings) must share a grid. */
  building: number | null
  building_code: string
  must_share: number | null
  behind: number | null
  detail: string
}

export interface AdoptSummary {
  grids_before: number
  grids_after: number
  codes_kept: number
  grids_archived: number
  grids_created: number
  memberships_moved: number
  cases_moved: number
}

export type LayerCrs = 'wgs84' | 'cgcs2000' | 'gcj02' | 'bd09'
export const LAYER_CRS: LayerCrs[] = ['cgcs2000', 'wgs84', 'gcj02', 'bd09']

export interface DepartmentLayer {
  id: number
  name: string
  organisation_code: string | null
  source_crs: string
  source_name: string
  features: number
  created_at: string
}

export interface OverlayGrid {
  grid_code: string
  grid_name: string
  area_m2: number
  main_department_code: string | null
  main_share: number | null
  covered: number
  departments: number
  split: boolean
  gap: boolean
  slivers: string[]
}

export interface OverlayPair {
  grid_code: string
  department_code: string
  department_name: string
  area_m2: number
  share_of_grid: number
  share_of_department: number
  sliver: boolean
}

export interface OverlayIssue {
  grid_code: string
  kind: 'gap' | 'split' | 'sliver' | string
  detail: Record<string, unknown>
}

export interface Overlay {
  layer: { id: number; name: string } | null
  summary: Record<string, number>
  grids: OverlayGrid[]
  pairs: OverlayPair[]
  issues: OverlayIssue[]
}

export type LayeredCollection = GeoJSON.FeatureCollection<GeoJSON.Geometry | null, Record<string, unknown>>
