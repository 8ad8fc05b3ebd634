/** Shapes of the GridGov API: aliases of the types generated from the server's OpenAPI document into
 * `schema.d.ts` (`make api-types`; never edit that file by hand). Where the server sends untyped JSON
 * (a dict) or a plain string the screens narrow, `Refine` adds the shape the screens read. */
import type { components } from './schema'

/** The generated schemas by name (`Schemas['CaseOut']`). */
export type Schemas = components['schemas']
/** `T` with the fields of `R` replacing its own (for a dict field whose shape the server does not declare). */
export type Refine<T, R> = Omit<T, keyof R> & R

export interface Paged<T> {
  items: T[]
  count: number
}

export type RoleOut = Schemas['RoleOut']

export type Me = Schemas['MeOut']

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

/** `status` and `warning_level` narrowed to the values the screens know (the server sends strings). */
export type CaseOut = Refine<
  Schemas['CaseOut'],
  { status: CaseStatus; warning_level?: 'none' | 'yellow' | 'red'; attachments: string[] }
>

export type StepOut = Schemas['StepOut']

export type TimelineEvent = Refine<Schemas['TimelineEventOut'], { attachments: string[] }>

export type CaseDetail = CaseOut &
  Refine<
    Omit<Schemas['CaseDetailOut'], Exclude<keyof Schemas['CaseOut'], 'allowed_actions'>>,
    { timeline: TimelineEvent[] }
  >
/** One allowed action with the fields its form must fill (from the server's transition table). */
export type CaseAction = Schemas['ActionOut']

export type Category = Refine<Schemas['CategoryTreeOut'], { children?: Category[] }>

export type WhistleItem = Schemas['WhistleItemOut']

export type Organisation = Schemas['OrganisationOut']

export type Notification = Schemas['NotificationOut']

export type Duplicate = Schemas['DuplicateOut']

export type CategorySuggestion = Schemas['CategorySuggestionOut']

export type Attachment = Schemas['AttachmentOut']

export type Area = Schemas['AreaOut']

export type AreaDetail = Refine<Schemas['AreaDetailOut'], { geometry: GeoJSON.Geometry | null }>

export interface AreaFeatureProps {
  code: string
  name: string
  level: string
  households: number
  parent_code: string | null
}

export type AreaCollection = GeoJSON.FeatureCollection<GeoJSON.Geometry, AreaFeatureProps>

export type Building = Schemas['BuildingOut']

export type House = Schemas['HouseOut']

export type Located = Schemas['LocateOut']

export type RateKey =
  | 'on_time_close_rate'
  | 'close_rate'
  | 'rework_rate'
  | 'on_time_report_in_rate'
  | 'on_time_handling_rate'
  | 'satisfaction_rate'
  | 'community_share'

export type Figures = Refine<
  Schemas['FiguresOut'],
  { change: Record<string, { current: number | null; previous: number | null; year_ago: number | null }> }
>

export type ActionBody = Schemas['ActionIn']

export type IntakeBody = Schemas['CaseIn']

export type FiguresDay = Schemas['DayOut']

export type FiguresCategory = Schemas['CategoryRowOut']

export type FiguresRow = Schemas['FiguresRowOut']

export type DuplicatePreviewBody = Schemas['DuplicatePreviewIn']

/* Grid engine: health, re-division, 多网合一 (docs/territory.md). */
export type HealthStatus = 'below' | 'within' | 'above'

export type HealthSummary = Schemas['HealthSummaryOut']

export type HealthRow = Schemas['HealthRowOut']

export type Health = Schemas['GridHealthOut']

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

export type Proposal = Refine<Schemas['ProposalOut'], { metrics: ProposalMetrics }>

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

export type ProposalDetail = Refine<
  Schemas['ProposalDetailOut'],
  {
    metrics: ProposalMetrics
    grids: ProposalGrid[]
    before: ProposalBefore[]
    oversize: ProposalOversize[]
    infeasible: ProposalInfeasible[]
    relaxed: ProposalRelaxed[]
  }
>

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

export type AdoptSummary = Schemas['AdoptedOut']

export type LayerCrs = 'wgs84' | 'cgcs2000' | 'gcj02' | 'bd09'
export const LAYER_CRS: LayerCrs[] = ['cgcs2000', 'wgs84', 'gcj02', 'bd09']

export type DepartmentLayer = Schemas['LayerOut']

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

export type Overlay = Refine<
  Schemas['OverlayOut'],
  { layer: { id: number; name: string } | null; grids: OverlayGrid[]; pairs: OverlayPair[]; issues: OverlayIssue[] }
>

export type LayeredCollection = GeoJSON.FeatureCollection<GeoJSON.Geometry | null, Record<string, unknown>>
