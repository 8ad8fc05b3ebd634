/** What each role works on: the menu it sees and the statuses of the cases that wait on it. */
import type { Me } from '@/api/types'
import type { CaseFilters } from '@/api'

export const STAFF_ROLES = ['admin', 'leader', 'subdistrict_staff', 'community_staff', 'block_chief', 'grid_worker', 'building_head', 'department_handler', 'partner_org']
export const DISPATCH_ROLES = ['admin', 'leader', 'subdistrict_staff', 'community_staff']
export const TERRITORY_ROLES = ['admin', 'leader', 'subdistrict_staff', 'community_staff', 'block_chief', 'grid_worker', 'building_head', 'party_member']
export const DASHBOARD_ROLES = ['admin', 'leader', 'subdistrict_staff', 'community_staff']
export const INTAKE_ROLES = ['admin', 'leader', 'subdistrict_staff', 'community_staff', 'block_chief', 'grid_worker', 'building_head']

export function roleCodes(me: Me | null): string[] {
  return me ? me.roles.map((r) => r.role) : []
}

export function hasRole(me: Me | null, roles: string[]): boolean {
  return roleCodes(me).some((r) => roles.includes(r))
}

export interface MenuItem {
  key: string
  path: string
  roles: string[] | null // null: everyone
}

export const MENU: MenuItem[] = [
  { key: 'workbench', path: '/workbench', roles: null },
  { key: 'cases', path: '/cases', roles: null },
  { key: 'intake', path: '/cases/new', roles: INTAKE_ROLES },
  { key: 'territory', path: '/territory', roles: TERRITORY_ROLES },
  { key: 'dashboard', path: '/dashboard', roles: DASHBOARD_ROLES },
]

export function menuFor(me: Me | null): MenuItem[] {
  return MENU.filter((m) => m.roles === null || hasRole(me, m.roles))
}

/** The user's own area (the top bar shows it): the first membership with an area or organisation. */
export function areaLabel(me: Me | null): string {
  if (!me) return ''
  const r = me.roles.find((x) => x.area_name || x.organisation_name)
  return r ? (r.area_name ?? r.organisation_name ?? '') : ''
}

/** The list queries whose cases may wait on this user; each result is then narrowed by the role's
 * conditions in `waitsOn`. (An API filter "actionable by me" would make this exact; see the report.) */
export function todoQueries(me: Me | null): CaseFilters[] {
  const out: CaseFilters[] = []
  for (const r of me?.roles ?? []) {
    switch (r.role) {
      case 'community_staff':
      case 'subdistrict_staff':
      case 'leader':
        out.push({ status: ['submitted', 'accepted', 'community_handling', 'verified'], area: r.area_code ?? undefined })
        break
      case 'grid_worker':
        out.push({ status: ['handled'], area: r.area_code ?? undefined })
        break
      case 'department_handler':
      case 'partner_org':
        out.push({ status: ['whistled', 'in_progress'], department: r.organisation_code ?? undefined })
        break
      case 'admin':
        out.push({ status: ['submitted', 'verified'] })
        break
      case 'resident':
        out.push({ status: ['closed'] })
        break
    }
  }
  return out
}

/** Whether a case from `todoQueries` waits on this user (the holder rule for dispatchers). */
export function waitsOn(me: Me | null, c: { status: string; holder_area_code: string | null; satisfaction: number | null; merged_into_number: string | null }): boolean {
  for (const r of me?.roles ?? []) {
    if (['community_staff', 'subdistrict_staff', 'leader'].includes(r.role)) {
      if (['submitted', 'accepted', 'community_handling', 'verified'].includes(c.status) && c.holder_area_code === r.area_code) return true
    } else if (r.role === 'grid_worker') {
      if (c.status === 'handled') return true
    } else if (r.role === 'department_handler' || r.role === 'partner_org') {
      if (c.status === 'whistled' || c.status === 'in_progress') return true
    } else if (r.role === 'admin') {
      return true
    } else if (r.role === 'resident') {
      if (c.status === 'closed' && c.satisfaction === null && !c.merged_into_number) return true
    }
  }
  return false
}
