import { describe, expect, it } from 'vitest'

describe('the deployment configuration', () => {
  it('is read from the JSON data block, never run as a script', async () => {
    document.head.innerHTML = '<script type="application/json" id="gridgov-config">{"tileUrl":"https://t{s}.example/{z}/{x}/{y}","language":"en"}</script>'
    const { appConfig } = await import('@/lib/config')
    expect(appConfig()).toEqual({ tileUrl: 'https://t{s}.example/{z}/{x}/{y}', tileAttribution: '', language: 'en' })
  })
})
