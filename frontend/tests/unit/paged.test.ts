import { describe, expect, it } from 'vitest'
import { ApiClient, ApiError } from '@/api/client'
import type { Paged } from '@/api/types'
import { usePagedList, type Paging } from '@/lib/paged'

interface Row {
  id: number
}

/** A fetch whose answers the test releases one by one, recording what was asked. */
function controlled() {
  const calls: { filters: Record<string, unknown>; paging: Paging }[] = []
  const pending: { resolve: (p: Paged<Row>) => void; reject: (e: unknown) => void }[] = []
  const fetch = (filters: Record<string, unknown>, paging: Paging) =>
    new Promise<Paged<Row>>((resolve, reject) => {
      calls.push({ filters, paging })
      pending.push({ resolve, reject })
    })
  return { calls, pending, fetch }
}

const page = (ids: number[], count: number): Paged<Row> => ({ items: ids.map((id) => ({ id })), count })
const flush = () => new Promise((r) => setTimeout(r, 0))

describe('usePagedList', () => {
  it('is loading while a page is fetched, then holds its rows and total', async () => {
    const { calls, pending, fetch } = controlled()
    const list = usePagedList(fetch, { filters: () => ({ q: '' }), pageSize: 50 })
    const done = list.reload()
    expect(list.loading.value).toBe(true)
    expect(calls[0]).toEqual({ filters: { q: '' }, paging: { page: 1, page_size: 50 } })
    pending[0].resolve(page([1, 2], 120))
    await done
    expect(list.loading.value).toBe(false)
    expect(list.items.value.map((r) => r.id)).toEqual([1, 2])
    expect(list.total.value).toBe(120)
    expect(list.error.value).toBe('')
  })

  it('shows the server problem in the user language and keeps the old rows', async () => {
    const { pending, fetch } = controlled()
    const list = usePagedList(fetch)
    const first = list.reload()
    pending[0].resolve(page([7], 1))
    await first
    const second = list.reload()
    pending[1].reject(new ApiError(403, { title: '无权访问', detail: '您无权查看此内容。', errors: [{ field: 'area', message: '区域不在您的范围内' }] }))
    await second
    expect(list.loading.value).toBe(false)
    expect(list.error.value).toBe('您无权查看此内容。；区域不在您的范围内')
    expect(list.items.value.map((r) => r.id)).toEqual([7])
  })

  it('says a network failure in the UI language (through the API client)', async () => {
    const failing = new ApiClient({ language: () => 'en' }, async () => {
      throw new TypeError('down')
    })
    const list = usePagedList((f, p) => failing.get<Paged<Row>>('/api/v1/x', { ...f, ...p }))
    await list.reload()
    expect(list.error.value).toBe('The server could not be reached. Check the connection and try again.')
  })

  it('goes back to the first page when the filters are searched, reset or the page size changes', async () => {
    const { calls, pending, fetch } = controlled()
    const list = usePagedList(fetch, { filters: () => ({ status: '', q: '' }) })
    list.page.value = 4
    list.filters.status = 'pending'
    void list.search()
    expect(calls.at(-1)).toEqual({ filters: { status: 'pending', q: '' }, paging: { page: 1, page_size: 20 } })
    list.page.value = 3
    void list.reset()
    expect(list.filters).toEqual({ status: '', q: '' })
    expect(calls.at(-1)).toEqual({ filters: { status: '', q: '' }, paging: { page: 1, page_size: 20 } })
    list.page.value = 2
    void list.setPageSize(100)
    expect(calls.at(-1)?.paging).toEqual({ page: 1, page_size: 100 })
    list.page.value = 5
    void list.reload()
    expect(calls.at(-1)?.paging).toEqual({ page: 5, page_size: 100 })
    pending.forEach((p) => p.resolve(page([], 0)))
  })

  it('keeps the newest answer when an older request comes back later', async () => {
    const { pending, fetch } = controlled()
    const list = usePagedList(fetch, { filters: () => ({ q: '' }) })
    list.filters.q = 'old'
    const older = list.search()
    list.filters.q = 'new'
    const newer = list.search()
    pending[1].resolve(page([2], 1))
    await newer
    pending[0].resolve(page([1], 1))
    await older
    expect(list.items.value.map((r) => r.id)).toEqual([2])
    expect(list.loading.value).toBe(false)
  })

  it('loads at once when asked to', async () => {
    const { calls, pending, fetch } = controlled()
    const list = usePagedList(fetch, { immediate: true, page: 2 })
    expect(calls).toHaveLength(1)
    expect(calls[0].paging.page).toBe(2)
    pending[0].resolve(page([3], 21))
    await flush()
    expect(list.total.value).toBe(21)
  })
})
