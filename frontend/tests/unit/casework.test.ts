import { describe, expect, it } from 'vitest'
import { deadlineLevel, remainingOf } from '@/lib/deadline'

describe('the remaining working time', () => {
  const day = 8 * 3600
  it('reads whole working days from one day on, else working hours rounded up', () => {
    expect(remainingOf(3 * day, day)).toEqual({ key: 'daysLeft', n: 3 })
    expect(remainingOf(5 * 3600, day)).toEqual({ key: 'hoursLeft', n: 5 })
    expect(remainingOf(4.2 * 3600, day)).toEqual({ key: 'hoursLeft', n: 5 })
    expect(remainingOf(-2 * day, day)).toEqual({ key: 'daysOver', n: 2 })
    expect(remainingOf(-1800, day)).toEqual({ key: 'hoursOver', n: 1 })
    expect(remainingOf(null, day)).toBeNull()
  })
})

describe('finished cases show no warning (finding 10)', () => {
  it('a closed or rated case keeps no yellow or red tag, whatever the server last raised', () => {
    for (const status of ['closed', 'rated', 'rejected']) {
      expect(deadlineLevel({ status, due_at: '2020-01-01T00:00:00Z', warning_level: 'red' })).toBe('none')
      expect(deadlineLevel({ status, due_at: '2020-01-01T00:00:00Z', warning_level: 'yellow' })).toBe('none')
    }
    expect(deadlineLevel({ status: 'in_progress', due_at: '2020-01-01T00:00:00Z', warning_level: 'red' })).toBe('red')
  })
})
