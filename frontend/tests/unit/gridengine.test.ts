import { describe, expect, it, vi } from 'vitest'
import type { FiguresRow, Me } from '@/api/types'
import { deadlineLevel } from '@/lib/deadline'
import { rankBy, rowsAtLevel, valuesFor } from '@/lib/dashboard'
import { issueDepartments, metricRows, overlayColour, overlayMarks, percent, redividable, statusColour } from '@/lib/gridengine'
import { actionBody, missingFields, specOf } from '@/lib/actions'
import { menuFor } from '@/lib/roles'

const row = (code: string, level: string, reported: number, rate: number | null): FiguresRow => ({
  code,
  name: code,
  level,
  date_from: '2026-11-01',
  date_to: '2026-11-30',
  counts: { reported, closed: reported - 1, reported_in: reported } as FiguresRow['counts'],
  rates: { on_time_close_rate: rate, close_rate: null, rework_rate: 0.1, on_time_report_in_rate: rate, on_time_handling_rate: null, satisfaction_rate: null, community_share: null },
  mean_report_in_hours: null,
  mean_resolution_hours: null,
})

const me = (...roles: string[]): Me => ({
  id: 1,
  username: 'u',
  display_name: 'u',
  roles: roles.map((role) => ({ role, role_label: role, area_code: null, area_name: null, area_level: null, organisation_code: null, organisation_name: null })),
  scope: { kind: '', kinds: [], area_codes: [], organisation_codes: [] },
  totp_enabled: false,
  mfa_enrolment_required: false,
  password_change_required: false,
  language: 'zh-hans',
  preferred_language: '',
  session_idle_seconds: 1800,
})

describe('deadline marks from the server', () => {
  const now = new Date('2026-11-22T10:00:00Z')
  it('uses warning_level when the server sends it', () => {
    expect(deadlineLevel({ status: 'in_progress', due_at: '2026-12-30T00:00:00Z', warning_level: 'red' }, now)).toBe('red')
    expect(deadlineLevel({ status: 'in_progress', due_at: '2026-11-01T00:00:00Z', warning_level: 'none' }, now)).toBe('none')
    expect(deadlineLevel({ status: 'accepted', due_at: null, warning_level: 'yellow' }, now)).toBe('yellow')
  })
  it('falls back to the wall-clock rule without it', () => {
    expect(deadlineLevel({ status: 'in_progress', due_at: '2026-11-01T00:00:00Z' }, now)).toBe('red')
    expect(deadlineLevel({ status: 'in_progress', due_at: '2026-11-01T00:00:00Z', warning_level: null }, now)).toBe('red')
  })
})

describe('dashboard rows', () => {
  it('reaches the grids of a community through its blocks', async () => {
    const rowsOf = vi.fn(async (parent: string) =>
      parent === 'C'
        ? [row('C01', 'block', 5, 0.5), row('C02', 'block', 3, 0.9)]
        : parent === 'C01'
          ? [row('C01001', 'grid', 2, 1), row('C01002', 'grid', 3, null)]
          : [row('C02003', 'grid', 3, 0.9)],
    )
    const rows = await rowsAtLevel('C', 'grid', rowsOf)
    expect(rows.map((r) => r.code)).toEqual(['C01001', 'C01002', 'C02003'])
    expect(rowsOf).toHaveBeenCalledTimes(3)
  })
  it('stops at the children when they are at the level asked for', async () => {
    const rowsOf = vi.fn(async () => [row('S1', 'subdistrict', 1, 1)])
    expect((await rowsAtLevel('D', 'subdistrict', rowsOf)).length).toBe(1)
    expect(rowsOf).toHaveBeenCalledTimes(1)
  })
  it('makes map values from counts, rates or households', () => {
    const rows = [row('A', 'grid', 4, 0.5), row('B', 'grid', 2, null)]
    expect(valuesFor(rows, 'reported')).toEqual({ A: 4, B: 2 })
    expect(valuesFor(rows, 'on_time_close_rate')).toEqual({ A: 0.5 })
    expect(valuesFor(rows, 'households', { A: 300 })).toEqual({ A: 300 })
  })
  it('ranks by a rate, areas without one last, and drops those with nothing to measure', () => {
    const rows = [row('A', 'grid', 4, 0.5), row('B', 'grid', 2, null), row('C', 'grid', 6, 0.9), row('D', 'grid', 0, 1)]
    expect(rankBy(rows, 'on_time_close_rate', (r) => r.counts.reported).map((r) => r.code)).toEqual(['C', 'A', 'B'])
  })
})

describe('grid engine helpers', () => {
  it('builds the before/after table of a proposal', () => {
    const rows = metricRows({ grids_before: 7, grids_after: 8, within_before: 5, within_after: 8, mean_pp_before: 0.737, min_pp_before: 0.65, mean_pp_after: 0.6669, min_pp_after: null, codes_kept: 6 })
    expect(rows.map((r) => r.key)).toEqual(['grids', 'within', 'mean_pp', 'min_pp', 'codes_kept'])
    expect(rows[0]).toMatchObject({ before: '7', after: '8', change: 1 })
    expect(rows[1]).toMatchObject({ before: '5 / 7（71%）', after: '8 / 8（100%）', change: 3 })
    expect(rows[2]).toMatchObject({ before: '0.737', after: '0.667', change: -0.0701 })
    expect(rows[3]).toMatchObject({ after: '—', change: null })
    expect(rows[4].after).toBe('6 / 8（75%）')
  })
  it('marks and colours a unified grid in an overlay', () => {
    expect(overlayMarks({ split: true, gap: false, slivers: ['X'] })).toEqual(['split', 'sliver'])
    expect(overlayMarks({ split: false, gap: false, slivers: [] })).toEqual([])
    expect(overlayColour({ split: true, gap: true, slivers: [] })).toBe('#f56c6c')
    expect(overlayColour({ split: false, gap: false, slivers: [] })).toBe('#67c23a')
    expect(overlayColour(undefined)).toBe('#c0c4cc')
    expect(issueDepartments({ grid_code: 'g', kind: 'split', detail: { departments: ['A', 'B'] } })).toEqual(['A', 'B'])
    expect(issueDepartments({ grid_code: 'g', kind: 'sliver', detail: { department_code: 'C' } })).toEqual(['C'])
    expect(issueDepartments({ grid_code: 'g', kind: 'gap', detail: {} })).toEqual([])
  })
  it('colours health status and formats shares', () => {
    expect(statusColour('within')).toBe('#67c23a')
    expect(statusColour('nonsense')).toBe('#c0c4cc')
    expect(percent(0.7688)).toBe('76.9%')
    expect(percent(null)).toBe('—')
    expect(redividable([{ level: 'district' }])).toBe(false)
    expect(redividable([{ level: 'community' }])).toBe(true)
  })
})

describe('menu and the note action', () => {
  it('groups the territory screens for dispatchers and keeps one entry for grid workers', () => {
    const admin = menuFor(me('admin')).find((m) => m.key === 'territory')
    expect(admin?.children?.map((c) => c.key)).toEqual(['territoryArchive', 'gridHealth', 'redivision', 'layers'])
    const worker = menuFor(me('grid_worker')).find((m) => m.key === 'territory')
    expect(worker).toMatchObject({ key: 'territory', path: '/territory' })
    expect(worker?.children).toBeUndefined()
    expect(menuFor(me('resident')).some((m) => m.key === 'territory')).toBe(false)
  })
  it('asks for the text of a progress note, with optional photos', () => {
    const spec = specOf('note', { actions: [{ action: 'note', required: ['note'], one_of: [] }] })
    expect(missingFields(spec, { note: '  ' })).toEqual(['note'])
    expect(actionBody('note', { note: ' 已联系物业 ', attachments: ['a1'], reason: 'x' }, 3)).toEqual({ version: 3, note: '已联系物业', attachments: ['a1'] })
  })
})
