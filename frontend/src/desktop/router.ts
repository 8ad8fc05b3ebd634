/** Desktop routes under /app/ (history mode; Django answers every /app/… path with the app). Each screen
 * is its own chunk. */
import { createRouter, createWebHistory } from 'vue-router'
import { ElMessage } from 'element-plus'
import 'element-plus/theme-chalk/el-message.css'
import { i18n } from '@/i18n'
import { useSession } from '@/stores/session'
import {
  hasRole,
  ACCESS_LOG_ROLES,
  DASHBOARD_ROLES,
  GRID_ENGINE_ROLES,
  INTAKE_ROLES,
  REGISTRY_IMPORT_ROLES,
  REGISTRY_ROLES,
  SUBMISSION_ROLES,
  TERRITORY_ROLES,
  USER_ADMIN_ROLES,
  SYSTEM_ADMIN_ROLES,
  SECURITY_ADMIN_ROLES,
  AUDIT_ADMIN_ROLES,
  ROLE_CATALOGUE_ROLES,
  RENTAL_ROLES,
} from '@/lib/roles'

declare module 'vue-router' {
  interface RouteMeta {
    public?: boolean
    roles?: string[]
    bare?: boolean
  }
}

export const router = createRouter({
  history: createWebHistory('/app/'),
  routes: [
    { path: '/login', name: 'login', component: () => import('./views/LoginView.vue'), meta: { public: true, bare: true } },
    { path: '/', redirect: '/workbench' },
    { path: '/workbench', name: 'workbench', component: () => import('./views/WorkbenchView.vue') },
    { path: '/cases', name: 'cases', component: () => import('./views/CaseListView.vue') },
    { path: '/cases/new', name: 'intake', component: () => import('./views/CaseIntakeView.vue'), meta: { roles: INTAKE_ROLES } },
    { path: '/cases/:id(\\d+)', name: 'case', component: () => import('./views/CaseDetailView.vue'), props: (r) => ({ id: Number(r.params.id) }) },
    { path: '/territory', name: 'territory', component: () => import('./views/TerritoryView.vue'), meta: { roles: TERRITORY_ROLES } },
    { path: '/territory/health', name: 'grid-health', component: () => import('./views/GridHealthView.vue'), meta: { roles: GRID_ENGINE_ROLES } },
    { path: '/territory/redivision', name: 'redivision', component: () => import('./views/RedivisionView.vue'), meta: { roles: GRID_ENGINE_ROLES } },
    { path: '/territory/redivision/:id(\\d+)', name: 'proposal', component: () => import('./views/ProposalView.vue'), props: (r) => ({ id: Number(r.params.id) }), meta: { roles: GRID_ENGINE_ROLES } },
    { path: '/territory/layers', name: 'layers', component: () => import('./views/LayersView.vue'), meta: { roles: GRID_ENGINE_ROLES } },
    { path: '/territory/layers/:id(\\d+)', name: 'layer', component: () => import('./views/LayerOverlayView.vue'), props: (r) => ({ id: Number(r.params.id) }), meta: { roles: GRID_ENGINE_ROLES } },
    { path: '/registry', name: 'registry', component: () => import('./views/RegistryView.vue'), meta: { roles: REGISTRY_ROLES } },
    { path: '/registry/import', name: 'registry-import', component: () => import('./views/RegistryImportView.vue'), meta: { roles: REGISTRY_IMPORT_ROLES } },
    { path: '/registry/submissions', name: 'registry-submissions', component: () => import('./views/SubmissionsView.vue'), meta: { roles: SUBMISSION_ROLES } },
    { path: '/registry/access-log', name: 'access-log', component: () => import('./views/AccessLogView.vue'), meta: { roles: ACCESS_LOG_ROLES } },
    { path: '/rental', name: 'rental', component: () => import('./views/rental/RentalListView.vue'), meta: { roles: RENTAL_ROLES } },
    { path: '/rental/import', name: 'rental-import', component: () => import('./views/rental/RentalImportView.vue'), meta: { roles: REGISTRY_IMPORT_ROLES } },
    { path: '/rental/figures', name: 'rental-figures', component: () => import('./views/rental/RentalFiguresView.vue'), meta: { roles: RENTAL_ROLES } },
    { path: '/rental/stars', name: 'rental-stars', component: () => import('./views/rental/RentalStarsView.vue'), meta: { roles: RENTAL_ROLES } },
    { path: '/rental/stars/:id(\\d+)', name: 'rental-star-site', component: () => import('./views/rental/RentalStarSiteView.vue'), props: (r) => ({ id: Number(r.params.id) }), meta: { roles: RENTAL_ROLES } },
    { path: '/rental/:id(\\d+)', name: 'rental-house', component: () => import('./views/rental/RentalHouseView.vue'), props: (r) => ({ id: Number(r.params.id) }), meta: { roles: RENTAL_ROLES } },
    { path: '/dashboard', name: 'dashboard', component: () => import('./views/DashboardView.vue'), meta: { roles: DASHBOARD_ROLES, bare: true } },
    { path: '/admin/users', name: 'admin-users', component: () => import('./views/admin/AdminUsersView.vue'), meta: { roles: USER_ADMIN_ROLES } },
    { path: '/admin/organisations', name: 'admin-organisations', component: () => import('./views/admin/AdminOrganisationsView.vue'), meta: { roles: SYSTEM_ADMIN_ROLES } },
    { path: '/admin/roles', name: 'admin-roles', component: () => import('./views/admin/AdminRolesView.vue'), meta: { roles: ROLE_CATALOGUE_ROLES } },
    { path: '/admin/security', name: 'admin-security', component: () => import('./views/admin/AdminSecurityView.vue'), meta: { roles: SECURITY_ADMIN_ROLES } },
    { path: '/admin/audit', name: 'admin-audit', component: () => import('./views/admin/AdminAuditView.vue'), meta: { roles: AUDIT_ADMIN_ROLES } },
    { path: '/:rest(.*)*', name: 'not-found', component: () => import('./views/NotFoundView.vue') },
  ],
})

router.beforeEach(async (to) => {
  const session = useSession()
  if (!session.checked) await session.load()
  if (to.meta.public) return true
  if (!session.loggedIn) return { name: 'login', query: { next: to.fullPath } }
  // A password set by an administrator is changed first (the login screen asks for it).
  if (session.me?.password_change_required) return { name: 'login', query: { next: to.fullPath } }
  if (to.meta.roles && !hasRole(session.me, to.meta.roles)) {
    // Say why instead of bouncing silently to the workbench.
    ElMessage.warning({ message: i18n.global.t('fixes.forbidden'), customClass: 'forbidden-message' })
    return { name: 'workbench' }
  }
  return true
})
