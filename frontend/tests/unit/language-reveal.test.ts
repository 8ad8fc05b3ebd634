import { beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { i18n, setLanguage } from '@/i18n'
import type { Me } from '@/api/types'

const setLanguageOnServer = vi.fn()
const loginOnServer = vi.fn()
vi.mock('@/api', () => ({
  api: { loggedIn: false },
  auth: {
    me: vi.fn(),
    login: (...args: unknown[]) => loginOnServer(...args),
    logout: vi.fn(),
    setLanguage: (language: string) => setLanguageOnServer(language),
  },
}))

const { useSession } = await import('@/stores/session')
const LanguageSwitch = (await import('@/components/LanguageSwitch.vue')).default
const RevealPhone = (await import('@/components/RevealPhone.vue')).default

function me(preferred: Me['preferred_language']): Me {
  return { id: 1, username: 'u', display_name: 'U', roles: [], preferred_language: preferred } as unknown as Me
}

describe('the language choice', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    setLanguageOnServer.mockReset()
    setLanguage('zh-CN')
  })

  it('switches and keeps the choice on the account of the logged-in user', async () => {
    const session = useSession()
    session.me = me('')
    setLanguageOnServer.mockResolvedValue(me('en'))
    const wrapper = mount(LanguageSwitch, { global: { plugins: [i18n] } })
    await wrapper.get('[data-testid="lang-en"]').trigger('click')
    await flushPromises()
    expect(i18n.global.locale.value).toBe('en')
    expect(setLanguageOnServer).toHaveBeenCalledWith('en')
    expect(session.me?.preferred_language).toBe('en')
    expect(wrapper.find('[data-testid="lang-not-saved"]').exists()).toBe(false)
  })

  it('says so when the account could not keep it (the screen still switches)', async () => {
    useSession().me = me('')
    setLanguageOnServer.mockRejectedValue(new Error('offline'))
    const wrapper = mount(LanguageSwitch, { global: { plugins: [i18n] } })
    await wrapper.get('[data-testid="lang-en"]').trigger('click')
    await flushPromises()
    expect(i18n.global.locale.value).toBe('en')
    expect(wrapper.get('[data-testid="lang-not-saved"]').text()).toBe('Language switched, but it could not be saved to your account')
  })

  it('applies the language kept on the account at login', async () => {
    loginOnServer.mockResolvedValue(me('en'))
    await useSession().login('u', 'p')
    expect(i18n.global.locale.value).toBe('en')
    loginOnServer.mockResolvedValue(me(''))
    setLanguage('zh-CN')
    await useSession().login('u', 'p') // nothing kept: the screen's choice stays
    expect(i18n.global.locale.value).toBe('zh-CN')
  })

  it('only switches the screen before login (the login page)', async () => {
    const wrapper = mount(LanguageSwitch, { global: { plugins: [i18n] } })
    await wrapper.get('[data-testid="lang-en"]').trigger('click')
    await flushPromises()
    expect(i18n.global.locale.value).toBe('en')
    expect(setLanguageOnServer).not.toHaveBeenCalled()
  })
})

describe('revealing the reporter phone', () => {
  beforeEach(() => setLanguage('zh-CN'))

  it('offers 查看完整号码 to a role that may reveal, and emits the request', async () => {
    const wrapper = mount(RevealPhone, {
      props: { phone: '138****5678', revealable: true, revealed: false },
      global: { plugins: [i18n] },
    })
    expect(wrapper.get('[data-testid="reporter-phone"]').text()).toBe('138****5678')
    const button = wrapper.get('[data-testid="reveal-phone"]')
    expect(button.text()).toBe('查看完整号码')
    await button.trigger('click')
    expect(wrapper.emitted('reveal')).toHaveLength(1)
    expect(wrapper.find('[data-testid="reveal-logged"]').exists()).toBe(false)
  })

  it('offers nothing to a role that may not', () => {
    const wrapper = mount(RevealPhone, {
      props: { phone: '138****5678', revealable: false, revealed: false },
      global: { plugins: [i18n] },
    })
    expect(wrapper.find('[data-testid="reveal-phone"]').exists()).toBe(false)
  })

  it('shows the full number with a note that the view was logged, in either language', async () => {
    const wrapper = mount(RevealPhone, {
      props: { phone: '13812345678', revealable: false, revealed: true },
      global: { plugins: [i18n] },
    })
    expect(wrapper.get('[data-testid="reporter-phone"]').text()).toBe('13812345678')
    expect(wrapper.get('[data-testid="reveal-logged"]').text()).toBe('本次查看已记入个人信息访问日志')
    setLanguage('en')
    await flushPromises()
    expect(wrapper.get('[data-testid="reveal-logged"]').text()).toBe('This view has been written to the personal-data access log')
  })
})
