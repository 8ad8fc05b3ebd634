import { describe, expect, it } from 'vitest'
import { daysBefore, formatDate, formatDateTime, formatRate, maskName, maskPhone, rateChange, truncate } from '@/lib/format'
import { byDeadline, deadlineLevel } from '@/lib/deadline'
import { actionBody, missingFields, sortActions, specOf, stepChoices } from '@/lib/actions'
import { classOf } from '@/lib/geo'
import type { StepOut } from '@/api/types'

describe('masking', () => {
  it('masks phones and names', () => {
    expect(maskPhone('13812345678')).toBe('138****5678')
    expect(maskPhone('138****5678')).toBe('138****5678')
    expect(maskPhone('12345')).toBe('*****')
    expect(maskPhone('075512345678')).toBe('0755****5678')
    expect(maskPhone('')).toBe('')
    expect(maskName('张三丰')).toBe('张**')
    expect(maskName('王*')).toBe('王*')
    expect(maskName('李')).toBe('李')
  })
})

describe('formats', () => {
  it('shows times in Asia/Shanghai', () => {
    expect(formatDateTime('2026-11-22T10:00:00Z')).toBe('2026-11-22 18:00')
    expect(formatDate('2026-11-22T17:00:00Z')).toBe('2026-11-23')
    expect(formatDateTime(null)).toBe('—')
    expect(formatDateTime('not a date')).toBe('—')
  })
  it('formats rates and their change', () => {
    expect(formatRate(0.8)).toBe('80.0%')
    expect(formatRate(null)).toBe('—')
    expect(rateChange(0.8, 0.8469)).toBe(-4.7)
    expect(rateChange(0.8, null)).toBeNull()
  })
  it('counts days and truncates by characters', () => {
    expect(daysBefore('2026-03-01', 1)).toBe('2026-02-28')
    expect(truncate('网格治理平台', 4)).toBe('网格治理…')
  })
})

describe('the deadline colour rule', () => {
  const now = new Date('2026-11-22T10:00:00Z')
  const base = { status: 'in_progress', accepted_at: '2026-11-20T10:00:00Z' }
  it('is red once the deadline has passed', () => {
    expect(deadlineLevel({ ...base, due_at: '2026-11-22T09:59:00Z' }, now)).toBe('red')
    expect(deadlineLevel({ ...base, due_at: '2026-11-22T10:00:00Z' }, now)).toBe('red')
  })
  it('is yellow from 80 % of the time used', () => {
    // 48 h used of 60 h = 80 %
    expect(deadlineLevel({ ...base, due_at: '2026-11-22T22:00:00Z' }, now)).toBe('yellow')
    // 48 h used of 61 h < 80 %
    expect(deadlineLevel({ ...base, due_at: '2026-11-22T23:00:00Z' }, now)).toBe('none')
  })
  it('is none for finished cases, without a deadline, or while suspended and not yet due', () => {
    expect(deadlineLevel({ ...base, status: 'closed', due_at: '2026-11-21T00:00:00Z' }, now)).toBe('none')
    expect(deadlineLevel({ ...base, due_at: null }, now)).toBe('none')
    expect(deadlineLevel({ ...base, suspended: true, due_at: '2026-11-22T12:00:00Z' }, now)).toBe('none')
  })
  it('orders by deadline, cases without one last', () => {
    const list = [
      { id: 1, due_at: null, created_at: '2026-11-01T00:00:00Z' },
      { id: 2, due_at: '2026-11-25T00:00:00Z', created_at: '2026-11-01T00:00:00Z' },
      { id: 3, due_at: '2026-11-23T00:00:00Z', created_at: '2026-11-01T00:00:00Z' },
    ]
    expect([...list].sort(byDeadline).map((c) => c.id)).toEqual([3, 2, 1])
  })
})

describe('action forms', () => {
  it('asks for what the server says each action requires', () => {
    const server = (action: string, required: string[]) => ({ actions: [{ action, required, one_of: [] }] })
    expect(missingFields(specOf('reject', server('reject', ['reason'])), { reason: '  ' })).toEqual(['reason'])
    expect(missingFields(specOf('verify', server('verify', ['passed'])), { passed: false })).toEqual([])
    expect(missingFields(specOf('verify', server('verify', ['passed'])), { passed: null })).toEqual(['passed'])
    expect(missingFields(specOf('accept', server('accept', [])), {})).toEqual([])
    expect(missingFields(specOf('accept', server('accept', ['category_code'])), {})).toEqual(['category_code'])
  })
  it('sends the version and only the fields of the action', () => {
    expect(actionBody('whistle', { departments: ['440309-CG'], note: ' 请报到 ', reason: 'ignored', whistle_item_id: null }, 3)).toEqual({
      version: 3,
      departments: ['440309-CG'],
      note: '请报到',
    })
    expect(actionBody('verify', { passed: false, note: '' }, 7)).toEqual({ version: 7, passed: false })
  })
  it('orders buttons with the main move first', () => {
    expect(sortActions(['supervise', 'whistle', 'accept', 'unknown'])).toEqual(['accept', 'whistle', 'supervise', 'unknown'])
  })
  it('offers a department only its own steps', () => {
    const step = (id: number, target_code: string, status: string) => ({ id, target_code, status }) as StepOut
    const steps = [step(1, '440309-CG', 'pending_report_in'), step(2, '440309-GA', 'pending_report_in'), step(3, '440309-CG', 'handled')]
    expect(stepChoices('report_in', steps, ['440309-CG']).map((s) => s.id)).toEqual([1])
    expect(stepChoices('reassign', steps, []).map((s) => s.id)).toEqual([1, 2])
  })
})

describe('map classes', () => {
  it('classes values for the map', () => {
    expect(classOf(0, 10)).toBe(0)
    expect(classOf(10, 10)).toBe(4)
    expect(classOf(400, 500, 300)).toBe(2)
  })
})
