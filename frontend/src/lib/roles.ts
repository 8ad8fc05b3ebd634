/** What each role works on: the menu it sees. (The cases waiting on a user come from the API: `todo=true`.) */
import type { Me } from '@/api/types'

export const STAFF_ROLES = ['admin', 'leader', 'subdistrict_staff', 'community_staff', 'block_chief', 'grid_worker', 'building_head', 'department_handler', 'partner_org']
export const DISPATCH_ROLES = ['admin', 'leader', 'subdistrict_staff', 'community_staff']
export const TERRITORY_ROLES = ['admin', 'leader', 'subdistrict_staff', 'community_staff', 'block_chief', 'grid_worker', 'building_head', 'party_member']
/** 网格体检, 网格重划, 多网合一: administrators, leaders, subdistrict and community staff. */
export const GRID_ENGINE_ROLES = ['admin', 'leader', 'subdistrict_staff', 'community_staff']
/** Adopting a re-division and importing department layers. */
export const GRID_ADMIN_ROLES = ['admin']
export const DASHBOARD_ROLES = ['admin', 'leader', 'subdistrict_staff', 'community_staff']
export const INTAKE_ROLES = ['admin', 'leader', 'subdistrict_staff', 'community_staff', 'block_chief', 'grid_worker', 'building_head']
/** 实有人口 (the registry): who reads records at all (administrators see none). */
export const REGISTRY_ROLES = ['leader', 'subdistrict_staff', 'community_staff', 'block_chief', 'grid_worker', 'building_head']
export const REGISTRY_IMPORT_ROLES = ['subdistrict_staff', 'community_staff']
export const REGISTRY_EXPORT_ROLES = ['leader', 'subdistrict_staff', 'community_staff', 'block_chief', 'grid_worker']
/** 出租屋 (rental housing): who reads the houses of their area and its figures (the API's readers). */
export const RENTAL_ROLES = ['leader', 'subdistrict_staff', 'community_staff', 'block_chief', 'grid_worker', 'building_head']
export const CARE_ROLES = ['community_staff']
export const SUBMIT_ROLES = ['building_head', 'grid_worker']
export const REVIEW_ROLES = ['community_staff']
export const SUBMISSION_ROLES = ['community_staff', 'building_head', 'grid_worker']
export const ACCESS_LOG_ROLES = ['audit_admin']
/** Administration (三员分立): accounts by the system administrator, whose roles, locks and second factors
 * the security administrator manages on the same screen; organisations by the system administrator; the
 * security administrator's own screens; the audit log by the audit administrator. */
export const USER_ADMIN_ROLES = ['admin', 'security_admin']
export const SYSTEM_ADMIN_ROLES = ['admin']
export const SECURITY_ADMIN_ROLES = ['security_admin']
export const AUDIT_ADMIN_ROLES = ['audit_admin']
export const ROLE_CATALOGUE_ROLES = ['admin', 'security_admin']

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
  children?: MenuItem[]
  /** The i18n key of the entry's name (default: `menu.<key>`). */
  label?: string
}

export const MENU: MenuItem[] = [
  { key: 'workbench', path: '/workbench', roles: null },
  { key: 'cases', path: '/cases', roles: null },
  { key: 'intake', path: '/cases/new', roles: INTAKE_ROLES },
  {
    key: 'territory',
    path: '/territory',
    roles: TERRITORY_ROLES,
    children: [
      { key: 'territoryArchive', path: '/territory', roles: TERRITORY_ROLES },
      { key: 'gridHealth', path: '/territory/health', roles: GRID_ENGINE_ROLES },
      { key: 'redivision', path: '/territory/redivision', roles: GRID_ENGINE_ROLES },
      { key: 'layers', path: '/territory/layers', roles: GRID_ENGINE_ROLES },
    ],
  },
  {
    key: 'registry',
    path: '/registry',
    roles: REGISTRY_ROLES,
    children: [
      { key: 'registryRecords', path: '/registry', roles: REGISTRY_ROLES },
      { key: 'registryImport', path: '/registry/import', roles: REGISTRY_IMPORT_ROLES },
      { key: 'registrySubmissions', path: '/registry/submissions', roles: SUBMISSION_ROLES },
    ],
  },
  {
    key: 'rental',
    path: '/rental',
    roles: RENTAL_ROLES,
    label: 'rental.menu.group',
    children: [
      { key: 'rentalHouses', path: '/rental', roles: RENTAL_ROLES, label: 'rental.menu.houses' },
      { key: 'rentalFigures', path: '/rental/figures', roles: RENTAL_ROLES, label: 'rental.menu.figures' },
      { key: 'rentalStars', path: '/rental/stars', roles: RENTAL_ROLES, label: 'rentalstars.menu' },
    ],
  },
  { key: 'accessLog', path: '/registry/access-log', roles: ACCESS_LOG_ROLES },
  { key: 'dashboard', path: '/dashboard', roles: DASHBOARD_ROLES },
  { key: 'adminUsers', path: '/admin/users', roles: USER_ADMIN_ROLES, label: 'admin.menu.users' },
  { key: 'adminOrganisations', path: '/admin/organisations', roles: SYSTEM_ADMIN_ROLES, label: 'admin.menu.organisations' },
  { key: 'adminRoles', path: '/admin/roles', roles: ROLE_CATALOGUE_ROLES, label: 'admin.menu.roles' },
  { key: 'adminSecurity', path: '/admin/security', roles: SECURITY_ADMIN_ROLES, label: 'admin.menu.security' },
  { key: 'adminAudit', path: '/admin/audit', roles: AUDIT_ADMIN_ROLES, label: 'admin.menu.audit' },
]

/** The menu of a user; a group with a single visible entry becomes that entry (under the group's name). */
export function menuFor(me: Me | null): MenuItem[] {
  const allowed = (m: MenuItem) => m.roles === null || hasRole(me, m.roles)
  return MENU.filter(allowed).map((m) => {
    if (!m.children) return m
    const children = m.children.filter(allowed)
    return children.length > 1 ? { ...m, children } : { key: m.key, path: children[0]?.path ?? m.path, roles: m.roles }
  })
}

/** The user's own area (the top bar shows it): the first membership with an area or organisation. */
export function areaLabel(me: Me | null): string {
  if (!me) return ''
  const r = me.roles.find((x) => x.area_name || x.organisation_name)
  return r ? (r.area_name ?? r.organisation_name ?? '') : ''
}
