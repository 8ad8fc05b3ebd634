import { describe, expect, it } from 'vitest'
import type { CaseAction } from '@/api/types'
import { missingFields, missingGroups, specOf } from '@/lib/actions'

const detail = (...actions: CaseAction[]) => ({ actions })

describe('action forms take their required fields from the server', () => {
  it('requires what the server lists for this case, and nothing it does not', () => {
    const withCategory = specOf('accept', detail({ action: 'accept', required: [], one_of: [] }))
    expect(withCategory.fields).toContain('category_code')
    expect(missingFields(withCategory, { category_code: '' })).toEqual([])

    const without = specOf('accept', detail({ action: 'accept', required: ['category_code'], one_of: [] }))
    expect(missingFields(without, { category_code: '' })).toEqual(['category_code'])
    expect(missingFields(without, { category_code: 'E0102' })).toEqual([])
  })

  it('asks for one field of a group when the server says either will do', () => {
    const spec = specOf('whistle', detail({ action: 'whistle', required: [], one_of: [['departments', 'whistle_item_id']] }))
    expect(missingGroups(spec, { departments: [], whistle_item_id: null })).toEqual([['departments', 'whistle_item_id']])
    expect(missingGroups(spec, { departments: ['440309-CG'], whistle_item_id: null })).toEqual([])
    expect(missingGroups(spec, { departments: [], whistle_item_id: 4 })).toEqual([])
  })

  it('treats a verdict of "failed" as given', () => {
    const spec = specOf('verify', detail({ action: 'verify', required: ['passed'], one_of: [] }))
    expect(missingFields(spec, { passed: null })).toEqual(['passed'])
    expect(missingFields(spec, { passed: false })).toEqual([])
  })

  it('requires nothing of an action the server did not send (it is not allowed; the server answers)', () => {
    const spec = specOf('reject', detail({ action: 'accept', required: ['category_code'], one_of: [] }))
    expect(spec.required).toEqual([])
    expect(spec.tone).toBe('danger')
  })
})
