/** The API client: JSON over fetch with the session cookie, the CSRF header on writes, the UI language in
 * Accept-Language, and problem+json errors turned into ApiError. A 401 that says the session is over
 * (session-expired, or not-authenticated once logged in) is reported through `onSessionEnded`. */

export interface FieldError {
  field: string
  message: string
  code?: string
}

export interface Problem {
  type?: string
  title?: string
  status?: number
  detail?: string
  errors?: FieldError[]
  [extra: string]: unknown
}

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly title: string
  readonly detail: string
  readonly errors: FieldError[]
  readonly problem: Problem

  constructor(status: number, problem: Problem) {
    const title = problem.title ?? `HTTP ${status}`
    super(problem.detail || title)
    this.name = 'ApiError'
    this.status = status
    this.problem = problem
    this.title = title
    this.detail = problem.detail ?? ''
    this.errors = Array.isArray(problem.errors) ? problem.errors : []
    this.code = problemCode(problem.type, status)
  }

  /** The message of one field (e.g. "body.description" or "description"), if the server named it. */
  fieldMessage(field: string): string | undefined {
    return this.errors.find((e) => e.field === field || e.field.endsWith(`.${field}`))?.message
  }

  /** Everything a person needs to read: the detail, then each field error. */
  get fullMessage(): string {
    const lines = [this.detail || this.title]
    for (const e of this.errors) {
      if (!lines[0].includes(e.message)) lines.push(e.message)
    }
    return lines.join('；')
  }
}

/** The code at the end of a problem type URL (`…/problems/locked` → `locked`). */
export function problemCode(type: string | undefined, status: number): string {
  if (type) {
    const last = type.split('/').filter(Boolean).pop()
    if (last && last !== 'about:blank') return last
  }
  const byStatus: Record<number, string> = {
    400: 'bad-request',
    401: 'not-authenticated',
    403: 'forbidden',
    404: 'not-found',
    409: 'conflict',
    413: 'too-large',
    422: 'validation',
    423: 'locked',
    429: 'too-many-requests',
  }
  return byStatus[status] ?? (status >= 500 ? 'server-error' : 'error')
}

/** Server language tags for the UI languages. */
export function acceptLanguage(uiLanguage: string): string {
  return uiLanguage.toLowerCase().startsWith('en') ? 'en' : 'zh-hans'
}

/** The file name of a Content-Disposition header (RFC 5987 `filename*` first). */
export function fileNameOf(header: string | null, fallback = 'download'): string {
  if (!header) return fallback
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header)
  if (star) {
    try {
      return decodeURIComponent(star[1].trim())
    } catch {
      /* fall through */
    }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/.exec(header)
  return plain ? plain[1].trim() : fallback
}

export type Query = Record<string, string | number | boolean | null | undefined | Array<string | number>>

export function buildQuery(query?: Query): string {
  if (!query) return ''
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue
    if (Array.isArray(value)) value.forEach((v) => params.append(key, String(v)))
    else params.append(key, String(value))
  }
  const text = params.toString()
  return text ? `?${text}` : ''
}

export interface RequestOptions {
  query?: Query
  body?: unknown
  form?: FormData
  headers?: Record<string, string>
  /** Do not report a 401 as the end of the session (the login call itself). */
  quiet401?: boolean
}

export interface ClientHooks {
  language: () => string
  onSessionEnded?: (code: string, message: string) => void
}

type FetchLike = (input: string, init?: RequestInit) => Promise<Response>

export class ApiClient {
  private csrfToken = ''
  loggedIn = false

  constructor(
    private readonly hooks: ClientHooks,
    private readonly fetchImpl: FetchLike = (input, init) => fetch(input, init),
    private readonly base = '',
  ) {}

  async refreshCsrf(): Promise<string> {
    const out = await this.request<{ csrf_token: string }>('GET', '/api/v1/auth/csrf')
    this.csrfToken = out.csrf_token
    return this.csrfToken
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, { query })
  }

  post<T>(path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('POST', path, { ...options, body })
  }

  /** A request whose answer is a file (an export, a template, an error workbook): the body as a Blob and
   * the file name the server gave (Content-Disposition); a problem+json answer becomes an ApiError. */
  async download(method: string, path: string, body?: unknown, query?: Query): Promise<{ blob: Blob; fileName: string }> {
    const write = method !== 'GET' && method !== 'HEAD'
    if (write && !this.csrfToken) await this.refreshCsrf()
    const headers: Record<string, string> = { Accept: '*/*', 'Accept-Language': acceptLanguage(this.hooks.language()) }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    if (write) headers['X-CSRFToken'] = this.csrfToken
    let response: Response
    try {
      response = await this.fetchImpl(this.base + path + buildQuery(query), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
      })
    } catch {
      throw this.networkError()
    }
    if (!response.ok) {
      const text = await response.text()
      let problem: Problem = { title: `HTTP ${response.status}`, detail: text.slice(0, 200) }
      try {
        problem = JSON.parse(text) as Problem
      } catch {
        /* not JSON */
      }
      throw this.failure(response.status, problem)
    }
    return { blob: await response.blob(), fileName: fileNameOf(response.headers.get('Content-Disposition'), '') }
  }

  /** A multipart upload with progress (XMLHttpRequest: fetch cannot report upload progress). `onProgress`
   * gets 0…100 as the body is sent; the answer is JSON, a problem+json answer becomes an ApiError. */
  async upload<T>(path: string, form: FormData, onProgress?: (percent: number) => void): Promise<T> {
    if (!this.csrfToken) await this.refreshCsrf()
    const xhr = new XMLHttpRequest()
    const done = new Promise<{ status: number; text: string }>((resolve, reject) => {
      xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText })
      xhr.onerror = () => reject(this.networkError())
      xhr.onabort = () => reject(this.networkError())
    })
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress?.(Math.min(100, Math.round((e.loaded / e.total) * 100)))
    }
    xhr.open('POST', this.base + path)
    xhr.withCredentials = true
    xhr.setRequestHeader('Accept', 'application/json, application/problem+json')
    xhr.setRequestHeader('Accept-Language', acceptLanguage(this.hooks.language()))
    xhr.setRequestHeader('X-CSRFToken', this.csrfToken)
    xhr.send(form)
    const { status, text } = await done
    let data: unknown = undefined
    try {
      data = text ? JSON.parse(text) : undefined
    } catch {
      data = undefined
    }
    if (status < 200 || status >= 300) {
      const problem: Problem = data && typeof data === 'object' ? (data as Problem) : { title: `HTTP ${status}`, detail: text.slice(0, 200) }
      throw this.failure(status, problem)
    }
    onProgress?.(100)
    return data as T
  }

  /** The ApiError of a failed answer; a stale CSRF token is dropped, and a 401 that says the session is
   * over is reported (unless quiet401: the login call itself). */
  private failure(status: number, problem: Problem, quiet401 = false): ApiError {
    const error = new ApiError(status, problem)
    if (status === 403 && error.detail.toLowerCase().includes('csrf')) this.csrfToken = ''
    if (status === 401 && !quiet401) {
      const ended = error.code === 'session-expired' || (error.code === 'not-authenticated' && this.loggedIn)
      if (ended) {
        this.loggedIn = false
        this.csrfToken = ''
        this.hooks.onSessionEnded?.(error.code, error.detail || error.title)
      }
    }
    return error
  }

  private networkError(): ApiError {
    const en = this.hooks.language().startsWith('en')
    return new ApiError(0, {
      type: 'network',
      title: en ? 'Network error' : '网络连接失败',
      detail: en ? 'The server could not be reached. Check the connection and try again.' : '无法连接服务器，请检查网络后重试。',
    })
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const write = method !== 'GET' && method !== 'HEAD'
    if (write && !this.csrfToken) await this.refreshCsrf()
    const headers: Record<string, string> = {
      Accept: 'application/json, application/problem+json',
      'Accept-Language': acceptLanguage(this.hooks.language()),
      ...(options.headers ?? {}),
    }
    let body: BodyInit | undefined
    if (options.form) body = options.form
    else if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json'
      body = JSON.stringify(options.body)
    }
    if (write) headers['X-CSRFToken'] = this.csrfToken
    let response: Response
    try {
      response = await this.fetchImpl(this.base + path + buildQuery(options.query), {
        method,
        headers,
        body,
        credentials: 'same-origin',
      })
    } catch {
      throw this.networkError()
    }
    if (response.status === 204) return undefined as T
    const text = await response.text()
    let data: unknown = undefined
    if (text) {
      try {
        data = JSON.parse(text)
      } catch {
        data = undefined
      }
    }
    if (!response.ok) {
      const problem: Problem =
        data && typeof data === 'object' ? (data as Problem) : { title: `HTTP ${response.status}`, detail: text.slice(0, 200) }
      throw this.failure(response.status, problem, options.quiet401)
    }
    return data as T
  }
}
