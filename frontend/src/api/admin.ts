/** Administration (`/api/v1/accounts/…`, `/api/v1/registry/pii-grants`): users and memberships, organisations,
 * the role catalogue, the security administrator's locks, login records and PII grants, the audit log, and
 * the user's own password and second factor (`/api/v1/auth/…`). Each call is refused by the server unless
 * the right one of the three administrators asks (三权分立). */
import type { Query } from './client'
import { api } from './index'
import type { Paged, Schemas } from './types'

const BASE = '/api/v1/accounts'

export type AdminUser = Schemas['UserOut']
export type AdminMembership = Schemas['MembershipOut']
export type AdminOrganisation = Schemas['OrganisationOut']
export type RoleInfo = Schemas['RoleInfoOut']
export type AccountLock = Schemas['LockOut']
export type AuditEvent = Schemas['AuditEventOut']
export type PiiGrant = Schemas['GrantOut']
export type LoginInfo = Schemas['LoginInfoOut']
export type TotpSetup = Schemas['TotpSetupOut']
export type UserCreate = Schemas['UserCreateIn']
export type UserPatch = Schemas['UserPatchIn']
export type OrganisationCreate = Schemas['OrganisationIn']
export type OrganisationPatch = Schemas['OrganisationPatchIn']
export type MembershipCreate = Schemas['MembershipIn']
export type GrantCreate = Schemas['GrantIn']

export const ORGANISATION_KINDS = ['department', 'committee', 'partner'] as const
export const PII_FIELDS = ['phone', 'id_number', 'care'] as const
/** The events of the security administrator's login records (GET /accounts/login-records). */
export const LOGIN_EVENTS = ['login', 'login_locked', 'unlock', 'totp_enrol', 'totp_reset', 'password_change'] as const

export const admin = {
  users: (query: Query = {}) => api.get<Paged<AdminUser>>(`${BASE}/users`, query),
  user: (id: number) => api.get<AdminUser>(`${BASE}/users/${id}`),
  createUser: (body: UserCreate) => api.post<AdminUser>(`${BASE}/users`, body),
  updateUser: (id: number, body: UserPatch) => api.request<AdminUser>('PATCH', `${BASE}/users/${id}`, { body }),
  grant: (userId: number, body: MembershipCreate) => api.post<AdminMembership>(`${BASE}/users/${userId}/memberships`, body),
  /** 网格长 on a grid worker's membership, the building of a building head's (security administrator). */
  setPost: (membershipId: number, body: { post: '' | 'grid_chief'; building_code?: string | null }) =>
    api.post<unknown>(`${BASE}/posts/memberships/${membershipId}`, body),
  revoke: (membershipId: number) => api.request<void>('DELETE', `${BASE}/memberships/${membershipId}`),
  unlock: (userId: number) => api.post<AdminUser>(`${BASE}/users/${userId}/unlock`),
  resetTotp: (userId: number) => api.post<AdminUser>(`${BASE}/users/${userId}/totp/reset`),
  organisations: (query: Query = {}) => api.get<Paged<AdminOrganisation>>(`${BASE}/organisations`, query),
  createOrganisation: (body: OrganisationCreate) => api.post<AdminOrganisation>(`${BASE}/organisations`, body),
  updateOrganisation: (code: string, body: OrganisationPatch) =>
    api.request<AdminOrganisation>('PATCH', `${BASE}/organisations/${encodeURIComponent(code)}`, { body }),
  roles: () => api.get<RoleInfo[]>(`${BASE}/roles`),
  locks: () => api.get<AccountLock[]>(`${BASE}/locks`),
  loginRecords: (query: Query = {}) => api.get<Paged<AuditEvent>>(`${BASE}/login-records`, query),
  audit: (query: Query = {}) => api.get<Paged<AuditEvent>>(`${BASE}/audit`, query),
  grants: (query: Query = {}) => api.get<Paged<PiiGrant>>('/api/v1/registry/pii-grants', query),
  createGrant: (body: GrantCreate) => api.post<PiiGrant>('/api/v1/registry/pii-grants', body),
  revokeGrant: (id: number) => api.request<void>('DELETE', `/api/v1/registry/pii-grants/${id}`),
}

/** The signed-in user's own account: the login page's hint, password, second factor. */
export const own = {
  loginInfo: () => api.get<LoginInfo>('/api/v1/auth/login-info'),
  changePassword: (old_password: string, new_password: string) =>
    api.post<void>('/api/v1/auth/password', { old_password, new_password }),
  totpSetup: () => api.post<TotpSetup>('/api/v1/auth/totp/setup'),
  totpConfirm: (code: string) => api.post<Schemas['MeOut']>('/api/v1/auth/totp/confirm', { code }),
}
