/** Issue 13: the dashboard colours by meaning (finding 8), its drill-down in the URL (finding 17), and an
 * upload error says the server's reason, not the field name (finding 11). */
import { describe, expect, it } from 'vitest'
import { ApiError } from '@/api/client'
import {
  COUNT_RAMP,
  GOOD_TO_POOR,
  NO_DATA,
  changeTone,
  colourOf,
  coloursFor,
  legendFor,
  scaleFor,
  trailFromQuery,
  trailQuery,
} from '@/lib/dashboard'
import { uploadErrorMessage } from '@/lib/upload'
import zhCN from '@/i18n/zh-CN'
import en from '@/i18n/en'

const GREEN = GOOD_TO_POOR[0]
const RED = GOOD_TO_POOR[GOOD_TO_POOR.length - 1]

describe('dashboard colours by meaning, not by sign', () => {
  it('a fall of 返工率 is good and a fall of 按期结案率 is bad', () => {
    expect(changeTone('rework_rate', -2.5)).toBe('good')
    expect(changeTone('rework_rate', 1.2)).toBe('bad')
    expect(changeTone('on_time_close_rate', -2.5)).toBe('bad')
    expect(changeTone('on_time_close_rate', 3)).toBe('good')
    expect(changeTone('satisfaction_rate', 0.4)).toBe('good')
    expect(changeTone('satisfaction_rate', 0)).toBe('flat')
    expect(changeTone('rework_rate', null)).toBeNull()
    expect(changeTone('reported', 5)).toBeNull() // neither good nor bad when it rises
  })

  it('the map paints a high 返工率 red and a high 满意率 green', () => {
    const values = { a: 0.95, b: 0.05 }
    const rework = scaleFor('rework_rate', values)
    expect(colourOf(0.95, rework)).toBe(RED)
    expect(colourOf(0.05, rework)).toBe(GREEN)
    const satisfied = scaleFor('satisfaction_rate', values)
    expect(colourOf(0.95, satisfied)).toBe(GREEN)
    expect(colourOf(0.05, satisfied)).toBe(RED)
    expect(colourOf(1, satisfied)).toBe(GREEN) // the top bound belongs to the top class
    expect(coloursFor(['a', 'b', 'c'], values, rework)).toEqual({ a: RED, b: GREEN, c: NO_DATA })
  })

  it('counts are neither good nor bad: a blue ramp from 0, darker is more', () => {
    const scale = scaleFor('reported', { a: 0, b: 12, c: 25 })
    expect(scale.kind).toBe('count')
    expect(scale.breaks).toEqual([0, 5, 10, 15, 20, 25])
    expect(colourOf(0, scale)).toBe(COUNT_RAMP[0])
    expect(colourOf(25, scale)).toBe(COUNT_RAMP[4])
    expect(scaleFor('reported', {}).breaks).toEqual([0, 1, 2, 3, 4, 5])
  })

  it('the legend names every class and "no data"', () => {
    const legend = legendFor(scaleFor('rework_rate', {}), (v) => `${Math.round(v * 100)}%`, '无数据')
    expect(legend.map((e) => e.label)).toEqual(['0%–20%', '20%–40%', '40%–60%', '60%–80%', '80%–100%', '无数据'])
    expect(legend[0].colour).toBe(GREEN)
    expect(legend[legend.length - 1].colour).toBe(NO_DATA)
    const counts = legendFor(scaleFor('reported', { a: 25 }), String, 'No data')
    expect(counts[0].label).toBe('0–4')
  })

  it('changes read in 个百分点 in Chinese, never "pp"', () => {
    expect(zhCN.fixes.dashboard.changePoints).toContain('个百分点')
    expect(en.fixes.dashboard.changePoints).toContain('percentage points')
  })
})

describe('the drill-down lives in the URL', () => {
  it('reads and writes the trail of area codes', () => {
    expect(trailFromQuery('440309,440309002,440309002001')).toEqual(['440309', '440309002', '440309002001'])
    expect(trailQuery(['440309', '440309002'])).toBe('440309,440309002')
    expect(trailFromQuery(['440309'])).toEqual(['440309'])
    expect(trailFromQuery('440309,<script>,x y')).toEqual(['440309'])
    expect(trailFromQuery(undefined)).toEqual([])
  })
})

describe('upload errors say what is wrong', () => {
  it('shows the server reason instead of "请更正：file"', () => {
    const e = new ApiError(422, { title: '输入有误', detail: '请更正：file', errors: [{ field: 'file', message: '请上传 JPEG、PNG 或 WebP 格式的照片。' }] })
    expect(uploadErrorMessage(e)).toBe('请上传 JPEG、PNG 或 WebP 格式的照片。')
    expect(uploadErrorMessage(e)).not.toContain('file')
  })

  it('falls back to the detail, then the title', () => {
    expect(uploadErrorMessage(new ApiError(413, { title: '文件太大', detail: '文件太大：最多 512 MB。' }))).toBe('文件太大：最多 512 MB。')
    expect(uploadErrorMessage(new ApiError(403, { title: '无权执行此操作' }))).toBe('无权执行此操作')
    expect(uploadErrorMessage(new Error('网络连接失败'))).toBe('网络连接失败')
  })
})
