/** Mobile routes under /m/ (Vant, made for 390×844): grid workers, department handlers and residents. */
import { createRouter, createWebHistory } from 'vue-router'
import { useSession } from '@/stores/session'

declare module 'vue-router' {
  interface RouteMeta {
    public?: boolean
    tab?: boolean
  }
}

export const router = createRouter({
  history: createWebHistory('/m/'),
  routes: [
    { path: '/login', name: 'login', component: () => import('./views/MobileLogin.vue'), meta: { public: true } },
    {
      path: '/',
      name: 'home',
      redirect: () => {
        const session = useSession()
        return session.is('grid_worker', 'block_chief', 'building_head', 'department_handler', 'partner_org') ? '/tasks' : '/mine'
      },
    },
    { path: '/tasks', name: 'tasks', component: () => import('./views/TasksView.vue'), meta: { tab: true } },
    { path: '/report', name: 'report', component: () => import('./views/ReportCase.vue'), meta: { tab: true } },
    { path: '/mine', name: 'mine', component: () => import('./views/MyReports.vue'), meta: { tab: true } },
    { path: '/messages', name: 'messages', component: () => import('./views/MobileMessages.vue'), meta: { tab: true } },
    { path: '/me', name: 'me', component: () => import('./views/MobileMe.vue'), meta: { tab: true } },
    { path: '/cases/:id(\\d+)', name: 'case', component: () => import('./views/MobileCase.vue'), props: (r) => ({ id: Number(r.params.id) }) },
    { path: '/rental/inspect/:id(\\d+)', name: 'rental-inspect', component: () => import('./views/rental/RentalInspect.vue'), props: (r) => ({ id: Number(r.params.id) }) },
    // 一屋一码: the page a house's QR label opens (no login).
    { path: '/rental-stars', name: 'rental-stars-public', component: () => import('./views/rental/RentalStarsPublic.vue'), meta: { public: true } },
    { path: '/rental/:code([0-9A-Za-z_-]{1,32})', name: 'rental-public', component: () => import('./views/rental/RentalPublic.vue'), props: true, meta: { public: true } },
    { path: '/:rest(.*)*', redirect: '/' },
  ],
})

router.beforeEach(async (to) => {
  const session = useSession()
  if (!session.checked) await session.load()
  if (to.meta.public) return true
  if (!session.loggedIn) return { name: 'login', query: { next: to.fullPath } }
  // A password set by an administrator is changed first (the login screen asks for it).
  if (session.me?.password_change_required) return { name: 'login', query: { next: to.fullPath } }
  return true
})
