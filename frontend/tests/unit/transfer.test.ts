import { afterEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { ApiClient, ApiError } from '@/api/client'
import { i18n } from '@/i18n'
import { downloadFile } from '@/lib/download'
import { MB, oversized, uploadItem } from '@/lib/upload'
import FileUpload from '@/components/FileUpload.vue'

/** An XMLHttpRequest that reports upload progress in two steps and answers as told. */
function fakeXhr(status: number, body: unknown, sent: { headers: Record<string, string>; url?: string }[]) {
  return class {
    status = 0
    responseText = ''
    withCredentials = false
    upload: { onprogress: ((e: { lengthComputable: boolean; loaded: number; total: number }) => void) | null } = { onprogress: null }
    onload: (() => void) | null = null
    onerror: (() => void) | null = null
    onabort: (() => void) | null = null
    private record = { headers: {} as Record<string, string>, url: undefined as string | undefined }
    open(_method: string, url: string) {
      this.record.url = url
    }
    setRequestHeader(name: string, value: string) {
      this.record.headers[name] = value
    }
    send() {
      sent.push(this.record)
      setTimeout(() => {
        this.upload.onprogress?.({ lengthComputable: true, loaded: 50, total: 200 })
        this.upload.onprogress?.({ lengthComputable: true, loaded: 200, total: 200 })
        this.status = status
        this.responseText = JSON.stringify(body)
        this.onload?.()
      }, 0)
    }
  }
}

function clientWithCsrf(language = 'zh-CN') {
  const fetchImpl = async () => new Response(JSON.stringify({ csrf_token: 'tok' }), { status: 200 })
  return new ApiClient({ language: () => language }, fetchImpl)
}

afterEach(() => {
  vi.unstubAllGlobals()
  vi.restoreAllMocks()
})

describe('uploads', () => {
  it('reports progress and sends the CSRF token and the UI language', async () => {
    const sent: { headers: Record<string, string>; url?: string }[] = []
    vi.stubGlobal('XMLHttpRequest', fakeXhr(201, { id: 'a1' }, sent))
    const seen: number[] = []
    const out = await clientWithCsrf('en').upload<{ id: string }>('/api/v1/cases/attachments', new FormData(), (p) => seen.push(p))
    expect(out).toEqual({ id: 'a1' })
    expect(seen).toEqual([25, 100, 100])
    expect(sent[0].headers['X-CSRFToken']).toBe('tok')
    expect(sent[0].headers['Accept-Language']).toBe('en')
  })

  it('turns a problem+json answer into an ApiError with the server message', async () => {
    vi.stubGlobal('XMLHttpRequest', fakeXhr(413, { type: 'https://gridgov.org/problems/too-large', title: '文件过大', detail: '文件不能超过 10 MB。' }, []))
    const error = (await clientWithCsrf().upload('/api/v1/cases/attachments', new FormData()).catch((e: unknown) => e)) as ApiError
    expect(error).toBeInstanceOf(ApiError)
    expect(error.code).toBe('too-large')
    expect(error.fullMessage).toBe('文件不能超过 10 MB。')
  })

  it('checks the size before sending', () => {
    expect(oversized([{ size: 11 * MB }, { size: 2 * MB }], 10 * MB)).toEqual([{ size: 11 * MB }])
    expect(oversized([{ size: 11 * MB }])).toEqual([])
  })

  it('marks a phone photo that is too large without sending it', async () => {
    const send = vi.fn()
    const item = { file: new File([new Uint8Array(2048)], 'big.jpg'), status: '' as const, message: '' }
    const text = { tooLarge: (n: string, mb: number) => `${n} > ${mb} MB`, progress: (p: number) => `${p}%`, error: String }
    expect(await uploadItem(item, send, text, 1024)).toBeNull()
    expect(send).not.toHaveBeenCalled()
    expect(item).toMatchObject({ status: 'failed', message: 'big.jpg > 1 MB' })
  })

  it('the upload component refuses a file over the limit and shows why, in the UI language', async () => {
    i18n.global.locale.value = 'zh-CN'
    const upload = vi.fn()
    const wrapper = mount(FileUpload, { props: { maxBytes: 1024, upload, testid: 'f' }, global: { plugins: [i18n] } })
    const input = wrapper.get('[data-testid="f"]')
    Object.defineProperty(input.element, 'files', { value: [new File([new Uint8Array(4096)], '现场.jpg')], configurable: true })
    await input.trigger('change')
    expect(upload).not.toHaveBeenCalled()
    expect(wrapper.get('[role="alert"]').text()).toBe('“现场.jpg”太大：不能超过 1 MB')
  })

  it('the upload component sends a chosen file at once and hands over the answer', async () => {
    let report: (p: number) => void = () => undefined
    let finish: (v: { id: string }) => void = () => undefined
    const upload = vi.fn((_file: File, onProgress: (p: number) => void) => {
      report = onProgress
      return new Promise<{ id: string }>((resolve) => (finish = resolve))
    })
    const wrapper = mount(FileUpload, { props: { upload, testid: 'f' }, global: { plugins: [i18n] } })
    const input = wrapper.get('[data-testid="f"]')
    Object.defineProperty(input.element, 'files', { value: [new File(['x'], 'a.png')], configurable: true })
    await input.trigger('change')
    report(40)
    await wrapper.vm.$nextTick()
    expect(wrapper.get('[data-testid="upload-progress"] progress').attributes('value')).toBe('40')
    finish({ id: 'p1' })
    await new Promise((r) => setTimeout(r, 0))
    expect(wrapper.emitted('uploaded')?.[0]?.[0]).toEqual({ id: 'p1' })
    expect(wrapper.find('[data-testid="upload-progress"]').exists()).toBe(false)
  })
})

describe('downloads', () => {
  it('fetches the file, names it from Content-Disposition and saves it', async () => {
    const calls: { url: string; init?: RequestInit }[] = []
    vi.stubGlobal('fetch', async (url: string, init?: RequestInit) => {
      calls.push({ url, init })
      return new Response('PK', {
        status: 200,
        headers: { 'Content-Disposition': "attachment; filename=\"x.xlsx\"; filename*=UTF-8''%E5%B1%85%E6%B0%91.xlsx" },
      })
    })
    const created = vi.fn(() => 'blob:1')
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL: created, revokeObjectURL: vi.fn() }))
    const clicked: string[] = []
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(this.download)
    })
    const name = await downloadFile('/api/v1/registry/imports/template?kind=residents&format=xlsx', { fileName: 'fallback.xlsx' })
    expect(name).toBe('居民.xlsx')
    expect(clicked).toEqual(['居民.xlsx'])
    expect(calls[0].url).toBe('/api/v1/registry/imports/template?kind=residents&format=xlsx')
    expect(calls[0].init?.method).toBe('GET')
    expect(created).toHaveBeenCalledTimes(1)
  })

  it('says why a download failed (problem+json) instead of saving an error page', async () => {
    vi.stubGlobal('fetch', async () =>
      new Response(JSON.stringify({ type: 'https://gridgov.org/problems/forbidden', title: '无权操作', detail: '您无权导出该区域的数据。' }), {
        status: 403,
        headers: { 'Content-Type': 'application/problem+json' },
      }),
    )
    const clicked = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => undefined)
    const error = (await downloadFile('/api/v1/territory/layers/1/overlay.xlsx').catch((e: unknown) => e)) as ApiError
    expect(error).toBeInstanceOf(ApiError)
    expect(error.fullMessage).toBe('您无权导出该区域的数据。')
    expect(clicked).not.toHaveBeenCalled()
  })
})
