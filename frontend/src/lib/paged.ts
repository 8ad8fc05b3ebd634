/** `usePagedList`: the state of every paged list view (filters, page, page size, total, loading, error)
 * and the one way to load it. The error is the server's problem+json message in the user's language
 * (`ApiError.fullMessage`; the client sends Accept-Language), or the client's own network message.
 *
 *   const list = usePagedList((filters, paging) => registry.accessLog({ ...filters, ...paging }), {
 *     filters: () => ({ username: '', action: '' }),
 *     pageSize: 50,
 *   })
 *   onMounted(list.reload)
 *   // template: v-model="list.filters.username", @submit="list.search", :data="list.items.value",
 *   //           v-model:current-page="list.page.value" @current-change="list.reload"
 */
import { reactive, ref, type Ref, type UnwrapNestedRefs } from 'vue'
import { ApiError } from '@/api/client'
import type { Paged } from '@/api/types'

/** What a list endpoint is asked for (a type, not an interface, so it fits a `Query`). */
export type Paging = {
  page: number
  page_size: number
}

export interface PagedListOptions<F extends object> {
  /** The initial (and reset) filter values; the list keeps them in one reactive object. */
  filters?: () => F
  page?: number
  pageSize?: number
  /** Load at once (outside a component, or when the view needs no onMounted). */
  immediate?: boolean
}

export interface PagedList<T, F extends object> {
  filters: UnwrapNestedRefs<F>
  page: Ref<number>
  pageSize: Ref<number>
  items: Ref<T[]>
  total: Ref<number>
  loading: Ref<boolean>
  /** The last load's error in the user's language; '' when it succeeded. */
  error: Ref<string>
  /** Load the current page with the current filters (a newer load wins over one still running). */
  reload: () => Promise<void>
  /** New filters: back to the first page, then load. */
  search: () => Promise<void>
  /** The initial filters, the first page, then load. */
  reset: () => Promise<void>
  /** Another page size: back to the first page, then load. */
  setPageSize: (size: number) => Promise<void>
}

/** The message a person reads for a failed request: the server's problem detail and field errors. */
export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.fullMessage
  return e instanceof Error ? e.message : String(e)
}

export function usePagedList<T, F extends object = Record<string, never>>(
  fetch: (filters: F, paging: Paging) => Promise<Paged<T>>,
  options: PagedListOptions<F> = {},
): PagedList<T, F> {
  const initial = options.filters ?? (() => ({}) as F)
  const filters = reactive(initial()) as UnwrapNestedRefs<F>
  const page = ref(options.page ?? 1)
  const pageSize = ref(options.pageSize ?? 20)
  const items = ref([]) as Ref<T[]>
  const total = ref(0)
  const loading = ref(false)
  const error = ref('')
  let latest = 0

  async function reload() {
    const mine = ++latest
    loading.value = true
    error.value = ''
    try {
      const out = await fetch({ ...(filters as F) }, { page: page.value, page_size: pageSize.value })
      if (mine !== latest) return
      items.value = out.items
      total.value = out.count
    } catch (e) {
      if (mine !== latest) return
      error.value = errorMessage(e)
    } finally {
      if (mine === latest) loading.value = false
    }
  }

  function search() {
    page.value = 1
    return reload()
  }

  function reset() {
    const fresh = initial() as Record<string, unknown>
    const current = filters as Record<string, unknown>
    for (const key of Object.keys(current)) if (!(key in fresh)) delete current[key]
    Object.assign(current, fresh)
    return search()
  }

  function setPageSize(size: number) {
    pageSize.value = size
    return search()
  }

  if (options.immediate) void reload()
  return { filters, page, pageSize, items, total, loading, error, reload, search, reset, setPageSize }
}
