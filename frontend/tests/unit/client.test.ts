import { describe, expect, it, vi } from 'vitest'
import { ApiClient, ApiError, acceptLanguage, buildQuery, problemCode } from '@/api/client'

function reply(status: number, body: unknown, type = 'application/json') {
  return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': type } })
}

function client(responses: Response[], language = 'zh-CN') {
  const calls: { url: string; init?: RequestInit }[] = []
  const ended = vi.fn()
  const fetchImpl = async (url: string, init?: RequestInit) => {
    calls.push({ url, init })
    const next = responses.shift()
    if (!next) throw new TypeError('network down')
    return next
  }
  return { api: new ApiClient({ language: () => language, onSessionEnded: ended }, fetchImpl), calls, ended }
}

describe('problem+json errors', () => {
  it('turns a problem document into an ApiError with its code, detail and field errors', async () => {
    const { api } = client([
      reply(422, {
        type: 'https://gridgov.org/problems/validation',
        title: '输入有误',
        status: 422,
        detail: '请更正：description',
        errors: [{ field: 'body.description', message: '不能为空', code: 'missing' }],
      }, 'application/problem+json'),
    ])
    const error = (await api.get('/api/v1/x').catch((e: unknown) => e)) as ApiError
    expect(error).toBeInstanceOf(ApiError)
    expect(error.status).toBe(422)
    expect(error.code).toBe('validation')
    expect(error.fieldMessage('description')).toBe('不能为空')
    expect(error.fullMessage).toBe('请更正：description；不能为空')
  })

  it('keeps the lockout detail for the login screen', async () => {
    const { api } = client([reply(423, { type: 'https://gridgov.org/problems/locked', title: '账户已锁定', detail: '请 29 分钟后再试。', minutes_remaining: 29 })])
    const error = (await api.post('/api/v1/auth/login', {}, { quiet401: true }).catch((e: unknown) => e)) as ApiError
    expect(error.code).toBe('locked')
    expect(error.detail).toContain('29')
    expect(error.problem.minutes_remaining).toBe(29)
  })

  it('falls back to a code by status when the body is not a problem', async () => {
    const { api } = client([new Response('<html>bad gateway</html>', { status: 502 })])
    const error = (await api.get('/x').catch((e: unknown) => e)) as ApiError
    expect(error.code).toBe('server-error')
    expect(problemCode(undefined, 409)).toBe('conflict')
  })

  it('reports a network failure as an ApiError in the UI language', async () => {
    const { api } = client([], 'en')
    const error = (await api.get('/x').catch((e: unknown) => e)) as ApiError
    expect(error.status).toBe(0)
    expect(error.title).toBe('Network error')
  })
})

describe('session and headers', () => {
  it('sends Accept-Language for the UI language and the CSRF token on writes', async () => {
    const { api, calls } = client([reply(200, { csrf_token: 'tok' }), reply(201, { id: 1 })], 'en')
    await api.post('/api/v1/cases/cases', { description: 'x' })
    expect(calls[0].url).toBe('/api/v1/auth/csrf')
    const headers = calls[1].init?.headers as Record<string, string>
    expect(headers['X-CSRFToken']).toBe('tok')
    expect(headers['Accept-Language']).toBe('en')
    expect(headers['Content-Type']).toBe('application/json')
    expect(calls[1].init?.body).toBe('{"description":"x"}')
  })

  it('tells the app when the session expired, once logged in', async () => {
    const { api, ended } = client([
      reply(401, { type: 'https://gridgov.org/problems/session-expired', title: '登录已超时', detail: '请重新登录。' }),
    ])
    api.loggedIn = true
    await api.get('/api/v1/cases/cases').catch(() => undefined)
    expect(ended).toHaveBeenCalledWith('session-expired', '请重新登录。')
    expect(api.loggedIn).toBe(false)
  })

  it('does not treat a wrong password as the end of a session', async () => {
    const { api, ended } = client([reply(401, { type: 'https://gridgov.org/problems/invalid-credentials', title: 'x' })])
    await api.post('/api/v1/auth/login', {}, { quiet401: true }).catch(() => undefined)
    expect(ended).not.toHaveBeenCalled()
  })

  it('answers undefined for 204', async () => {
    const { api } = client([reply(200, { csrf_token: 't' }), new Response(null, { status: 204 })])
    expect(await api.post('/api/v1/cases/notifications/1/read')).toBeUndefined()
  })
})

describe('helpers', () => {
  it('builds queries with repeated keys and without empty values', () => {
    expect(buildQuery({ status: ['submitted', 'accepted'], area: '', page: 2, overdue: undefined })).toBe('?status=submitted&status=accepted&page=2')
    expect(buildQuery({})).toBe('')
  })
  it('maps UI languages to server languages', () => {
    expect(acceptLanguage('zh-CN')).toBe('zh-hans')
    expect(acceptLanguage('en')).toBe('en')
  })
})
