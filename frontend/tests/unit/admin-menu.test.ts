/** Each administration screen is in the menu of the right one of the three administrators only. */
import { describe, expect, it } from 'vitest'
import type { Me } from '@/api/types'
import { menuFor } from '@/lib/roles'

function me(role: string): Me {
  return { roles: [{ role }] } as unknown as Me
}

const ADMIN_KEYS = ['adminUsers', 'adminOrganisations', 'adminRoles', 'adminSecurity', 'adminAudit']

function adminEntries(role: string): string[] {
  return menuFor(me(role))
    .map((m) => m.key)
    .filter((k) => ADMIN_KEYS.includes(k))
}

describe('administration menu', () => {
  it('gives each administrator their own screens', () => {
    expect(adminEntries('admin')).toEqual(['adminUsers', 'adminOrganisations', 'adminRoles'])
    expect(adminEntries('security_admin')).toEqual(['adminUsers', 'adminRoles', 'adminSecurity'])
    expect(adminEntries('audit_admin')).toEqual(['adminAudit'])
  })

  it('shows business roles none of them', () => {
    for (const role of ['grid_worker', 'community_staff', 'leader', 'department_handler', 'resident']) {
      expect(adminEntries(role)).toEqual([])
    }
  })

  it('names the entries from the admin i18n module', () => {
    const users = menuFor(me('admin')).find((m) => m.key === 'adminUsers')
    expect(users?.label).toBe('admin.menu.users')
  })
})
