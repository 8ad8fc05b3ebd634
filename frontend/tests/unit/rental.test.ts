/** Rental housing on screen: the checklist grouped as the form shows it, every item answered, the list's
 * filters from the URL, the grade colours, the menu by role and both languages. */
import { describe, expect, it } from 'vitest'
import type { Me } from '@/api/types'
import type { ChecklistItem } from '@/api/rental'
import { i18n, setLanguage } from '@/i18n'
import { menuFor } from '@/lib/roles'
import { gradeColour, gradeStyle, groupChecklist, houseFiltersFromQuery, resultsOf } from '@/lib/rental'

const item = (code: string, group: string): ChecklistItem => ({ code, group, name: code, weight: 5, hazard_category_code: '' })
const ITEMS = [item('S01', 'hygiene'), item('H01', 'hardware'), item('C01', 'compliance'), item('H02', 'hardware'), item('X1', 'other')]

describe('rental checklist', () => {
  it('groups the items in the order of the rules, keeping their order within a group', () => {
    const groups = groupChecklist(ITEMS)
    expect(groups.map((g) => g.group)).toEqual(['hardware', 'compliance', 'hygiene', 'other'])
    expect(groups[0]!.items.map((i) => i.code)).toEqual(['H01', 'H02'])
  })

  it('sends every item: pass unless the worker marked it', () => {
    expect(resultsOf(ITEMS, { H01: 'fail', C01: 'na' })).toEqual({ S01: 'pass', H01: 'fail', C01: 'na', H02: 'pass', X1: 'pass' })
  })
})

describe('rental list filters', () => {
  it('reads the filters of a link and drops what is not valid', () => {
    expect(houseFiltersFromQuery({ area: '440309002001', grade: 'strict', due: 'overdue' })).toEqual({ area: '440309002001', grade: 'strict', category: '', due: 'overdue' })
    expect(houseFiltersFromQuery({ area: '<script>', grade: 'gold', category: ['group'], due: 'soon' })).toEqual({ area: '', grade: '', category: 'group', due: '' })
  })
})

describe('grade colours', () => {
  it('shows each grade in its QR colour and an ungraded house in grey', () => {
    expect(['relaxed', 'watch', 'strict', 'prohibited'].map(gradeColour)).toEqual(['green', 'yellow', 'orange', 'red'])
    expect(gradeColour('')).toBeNull()
    expect(gradeStyle('orange').backgroundColor).toBe('#e8730c')
    expect(gradeStyle(null).backgroundColor).toBe('#909399')
  })
})

describe('rental menu', () => {
  const keys = (role: string) => menuFor({ roles: [{ role }] } as unknown as Me).flatMap((m) => [m.key, ...(m.children ?? []).map((c) => c.key)])

  it('is offered to the staff who read rental houses, not to administrators or residents', () => {
    for (const role of ['community_staff', 'subdistrict_staff', 'leader', 'grid_worker']) {
      expect(keys(role)).toEqual(expect.arrayContaining(['rental', 'rentalHouses', 'rentalFigures']))
    }
    for (const role of ['admin', 'audit_admin', 'resident', 'department_handler']) expect(keys(role)).not.toContain('rental')
  })

  it('names grades and checklist groups in Chinese and English', () => {
    setLanguage('zh-CN')
    expect(i18n.global.t('rental.grades.strict')).toBe('严管')
    expect(i18n.global.t('rental.groups.hardware')).toBe('硬件与消防')
    setLanguage('en')
    expect(i18n.global.t('rental.grades.strict')).toBe('Strict')
    expect(i18n.global.t('rental.menu.figures')).toBe('Grade figures')
    setLanguage('zh-CN')
  })
})
