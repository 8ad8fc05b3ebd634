import { describe, expect, it } from 'vitest'
import type { ImportJob } from '@/api/registry'
import { fileNameOf } from '@/api/client'
import { exportBody, PollAborted, pollImportJob, progressPercent, progressStatus, searchQuery } from '@/lib/registry'
import { menuFor } from '@/lib/roles'
import type { Me } from '@/api/types'

const job = (over: Partial<ImportJob>): ImportJob => ({
  id: 1, kind: 'residents', mode: 'valid_rows', status: 'queued', phase: 'validate', file_name: 'a.csv', file_format: 'csv',
  encoding: '', total: 0, processed: 0, percent: 0, inserted: 0, errors: 0, file_error: null, error_workbook_url: null,
  created_at: '', started_at: null, finished_at: null, seconds: 0, rows_per_second: null, ...over,
})

describe('pollImportJob', () => {
  it('reads until the job is final, reporting each answer, backing off while nothing changes', async () => {
    const answers = [job({}), job({}), job({ status: 'running', processed: 2, total: 4, percent: 50 }), job({ status: 'done', processed: 4, total: 4, percent: 100, inserted: 3, errors: 1 })]
    const waits: number[] = []
    const seen: string[] = []
    const final = await pollImportJob(async () => answers.shift()!, (j) => seen.push(j.status), {
      interval: 100, maxInterval: 1000, sleep: async (ms) => void waits.push(ms),
    })
    expect(final.status).toBe('done')
    expect(final.inserted).toBe(3)
    expect(seen).toEqual(['queued', 'queued', 'running', 'done'])
    expect(waits).toEqual([100, 200, 100])
  })

  it('retries transient errors, then gives up', async () => {
    let calls = 0
    const out = await pollImportJob(async () => {
      calls += 1
      if (calls < 3) throw new Error('net')
      return job({ status: 'rejected', file_error: 'bad' })
    }, () => undefined, { sleep: async () => undefined })
    expect(out.status).toBe('rejected')
    await expect(pollImportJob(async () => { throw new Error('down') }, () => undefined, { maxFailures: 2, sleep: async () => undefined })).rejects.toThrow('down')
  })

  it('stops when aborted', async () => {
    const controller = new AbortController()
    const p = pollImportJob(async () => job({ status: 'running' }), () => controller.abort(), { sleep: async () => undefined, signal: controller.signal })
    await expect(p).rejects.toBeInstanceOf(PollAborted)
  })
})

describe('progress', () => {
  it('uses the percent, else processed / total, and 100 when done', () => {
    expect(progressPercent(job({ status: 'running', percent: 37.25 }))).toBe(37.3)
    expect(progressPercent(job({ status: 'running', processed: 1, total: 4 }))).toBe(25)
    expect(progressPercent(job({ status: 'done', percent: 99 }))).toBe(100)
    expect(progressStatus(job({ status: 'done', errors: 1 }))).toBe('warning')
    expect(progressStatus(job({ status: 'done' }))).toBe('success')
    expect(progressStatus(job({ status: 'failed' }))).toBe('exception')
    expect(progressStatus(job({ status: 'running' }))).toBe('')
  })
})

describe('search and export', () => {
  it('sends ID numbers and phones as exact searches, anything else as a name', () => {
    expect(searchQuery('44030919900101123x')).toEqual({ id_number: '44030919900101123X' })
    expect(searchQuery('138 0013 8000')).toEqual({ phone: '13800138000' })
    expect(searchQuery(' 张三 ')).toEqual({ q: '张三' })
    expect(searchQuery('')).toEqual({})
  })

  it('builds the export body from the filter', () => {
    expect(exportBody('residents', { area: '440309002001', building: ' B1 ', residence_type: 'tenant' })).toEqual({
      kind: 'residents', format: 'xlsx', reveal: false, area: '440309002001', building: 'B1', residence_type: 'tenant',
    })
    expect(exportBody('units', { residence_type: 'tenant' }, 'csv')).toEqual({ kind: 'units', format: 'csv', reveal: false })
  })

  it('reads the file name of Content-Disposition', () => {
    expect(fileNameOf("attachment; filename*=UTF-8''%E4%BA%BA%E5%8F%A3.xlsx")).toBe('人口.xlsx')
    expect(fileNameOf('attachment; filename="residents.csv"')).toBe('residents.csv')
    expect(fileNameOf(null)).toBe('download')
  })
})

describe('registry menu', () => {
  const me = (role: string) => ({ roles: [{ role }] }) as unknown as Me
  const keys = (role: string) => menuFor(me(role)).flatMap((m) => [m.key, ...(m.children ?? []).map((c) => c.key)])
  it('shows the registry to the readers and the access log to the audit administrator only', () => {
    expect(keys('community_staff')).toEqual(expect.arrayContaining(['registryRecords', 'registryImport', 'registrySubmissions']))
    expect(keys('building_head')).toContain('registrySubmissions')
    expect(keys('building_head')).not.toContain('registryImport')
    expect(keys('admin')).not.toContain('registry')
    expect(keys('audit_admin')).toEqual(expect.arrayContaining(['accessLog']))
    expect(keys('audit_admin')).not.toContain('registry')
  })
})
