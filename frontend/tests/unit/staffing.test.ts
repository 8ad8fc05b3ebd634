import { beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { i18n, setLanguage } from '@/i18n'
import type { Me } from '@/api/types'

const staff = vi.fn()
vi.mock('@/api', () => ({
  api: { loggedIn: true },
  ApiError: class ApiError extends Error {},
  auth: { me: vi.fn(), login: vi.fn(), logout: vi.fn(), setLanguage: vi.fn() },
}))
vi.mock('@/api/staffing', async (original) => ({
  ...(await original<typeof import('@/api/staffing')>()),
  staffing: { staff: (...args: unknown[]) => staff(...args), post: vi.fn(), setBackup: vi.fn(), recordLeave: vi.fn(), endLeave: vi.fn() },
}))

const { useSession } = await import('@/stores/session')
const StaffList = (await import('@/components/StaffList.vue')).default

function member(post: string, name: string, phone: string, extra: Record<string, unknown> = {}) {
  return { post, user_id: name.length, name, phone, phone_revealed: false, area_code: 'g1', area_name: '一网格', building_code: null, building_name: null, backup_name: '', on_leave: null, ...extra }
}

const answer = (phone = '138****1111') => ({
  area_code: 'g1',
  area_name: '一网格',
  area_level: 'grid',
  residents: 321,
  households: 120,
  revealable: true,
  members: [
    member('building_head', '赵楼长', '139****2222', { building_name: '1栋' }),
    member('grid_worker', '李网格', '137****3333'),
    member('grid_chief', '王网格长', phone, { on_leave: { starts_at: '2026-12-01T00:00:00Z', ends_at: '2026-12-09T10:00:00Z', backup_name: '李网格' } }),
  ],
})

describe('the staff list of a grid', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    setLanguage('zh-CN')
    staff.mockReset()
    useSession().me = { id: 99, username: 'staff', display_name: 'S', roles: [{ role: 'community_staff' }] } as unknown as Me
  })

  it('lists the posts in order with masked phones, population and who stands in', async () => {
    staff.mockResolvedValue(answer())
    const wrapper = mount(StaffList, { props: { areaCode: 'g1' }, global: { plugins: [i18n] } })
    await flushPromises()
    expect(staff).toHaveBeenCalledWith('g1', false)
    const posts = wrapper.findAll('[data-testid^="staff-post-"]').map((x) => x.text())
    expect(posts).toEqual(['网格长', '网格员', '楼栋长'])
    expect(wrapper.findAll('[data-testid="staff-phone"]').map((x) => x.text())).toEqual(['138****1111', '137****3333', '139****2222'])
    expect(wrapper.get('[data-testid="staff-population"]').text()).toContain('居民 321 人')
    expect(wrapper.get('[data-testid="staff-on-leave"]').text()).toContain('由 李网格 代班')
  })

  it('asks the server for full numbers only on request', async () => {
    staff.mockResolvedValueOnce(answer()).mockResolvedValueOnce({ ...answer('13800001111'), revealable: false })
    const wrapper = mount(StaffList, { props: { areaCode: 'g1' }, global: { plugins: [i18n] } })
    await flushPromises()
    await wrapper.get('[data-testid="staff-reveal"]').trigger('click')
    await flushPromises()
    expect(staff).toHaveBeenLastCalledWith('g1', true)
    expect(wrapper.findAll('[data-testid="staff-phone"]')[0].text()).toBe('13800001111')
    expect(wrapper.find('[data-testid="staff-reveal"]').exists()).toBe(false)
  })
})
