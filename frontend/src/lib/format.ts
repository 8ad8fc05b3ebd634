/** Formatting and masking helpers. Times are shown in Asia/Shanghai, whatever the browser's zone. */

const TZ = 'Asia/Shanghai'

function parts(value: string | Date): Record<string, string> | null {
  const date = value instanceof Date ? value : new Date(value)
  if (Number.isNaN(date.getTime())) return null
  const out: Record<string, string> = {}
  for (const p of new Intl.DateTimeFormat('en-GB', {
    timeZone: TZ,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(date)) {
    out[p.type] = p.value
  }
  return out
}

/** "2026-11-22 15:04" (Asia/Shanghai); "—" for nothing. */
export function formatDateTime(value: string | Date | null | undefined): string {
  if (!value) return '—'
  const p = parts(value)
  return p ? `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}` : '—'
}

/** "2026-11-22" (Asia/Shanghai). */
export function formatDate(value: string | Date | null | undefined): string {
  if (!value) return '—'
  const p = parts(value)
  return p ? `${p.year}-${p.month}-${p.day}` : '—'
}

/** A date n days before `today` (both Asia/Shanghai calendar dates, "YYYY-MM-DD"). */
export function daysBefore(today: string, n: number): string {
  const d = new Date(`${today}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() - n)
  return d.toISOString().slice(0, 10)
}

/** A rate 0…1 as a percentage with one decimal; "—" when the rate is null (no denominator). */
export function formatRate(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || Number.isNaN(rate)) return '—'
  return `${(rate * 100).toFixed(1)}%`
}

/** Change of a rate in percentage points ("+1.2" / "−0.5"), or null when either side is missing. */
export function rateChange(current: number | null | undefined, previous: number | null | undefined): number | null {
  if (current === null || current === undefined || previous === null || previous === undefined) return null
  return Math.round((current - previous) * 1000) / 10
}

export function formatHours(hours: number | null | undefined): string {
  if (hours === null || hours === undefined) return '—'
  return hours.toFixed(1)
}

/** 13812345678 → 138****5678 (already masked values are left alone; too short ones are all stars). */
export function maskPhone(phone: string | null | undefined): string {
  // The server's rule (gridgov.core.pii.mask_phone): 138****5678, landline 0755****5678.
  if (!phone) return ''
  if (phone.includes('*')) return phone
  const digits = phone.replace(/\s+/g, '')
  if (digits.length < 7) return '*'.repeat(digits.length)
  const head = digits.startsWith('0') ? 4 : 3
  return `${digits.slice(0, head)}****${digits.slice(-4)}`
}

/** 张三丰 → 张**; a name already masked is left alone. */
export function maskName(name: string | null | undefined): string {
  if (!name) return ''
  if (name.includes('*')) return name
  const chars = Array.from(name.trim())
  if (chars.length <= 1) return chars.join('')
  return chars[0] + '*'.repeat(chars.length - 1)
}

/** A short, unique key for Idempotency-Key headers. */
export function newIdempotencyKey(): string {
  const random = typeof crypto !== 'undefined' && 'randomUUID' in crypto ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`
  return `web-${random}`.slice(0, 64)
}

export function truncate(text: string, length: number): string {
  const chars = Array.from(text)
  return chars.length > length ? `${chars.slice(0, length).join('')}…` : text
}
