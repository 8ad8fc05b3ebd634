/** Rental figures (work of a period and export): screen texts. */
import type zh from './rentalfigures-zh-CN'

const en: typeof zh = {
  period: 'Period',
  periodHint: 'The last 30 days unless chosen; at most 366 days',
  from: 'From',
  to: 'To',
  activity: 'Inspections and hazards',
  activityHint:
    "Share on time: of the period's inspections that had a due day, those done on or before it (a house's first inspection does not count)",
  inspections: 'Inspections',
  onTime: 'On time / due',
  share: 'Share on time',
  hazardsOpened: 'Hazards opened',
  hazardsClosed: 'Hazards closed',
  rectificationOpen: 'Rectification open',
  export: 'Export to Excel',
  exported: 'Saved {name}',
}

export default en
