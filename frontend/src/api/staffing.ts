/** Staffing (网格力量) and AB岗: who serves an area (`/api/v1/territory/areas/{code}/staff`, phones masked
 * unless `reveal=true` and the rule allows it) and a person's backup and leave
 * (`/api/v1/accounts/posts/…`). */
import { api } from './index'
import type { Schemas } from './types'

export type Staffing = Schemas['StaffOut']
export type StaffMember = Schemas['StaffMemberOut']
export type PostInfo = Schemas['PostOut']
export type Leave = Schemas['LeaveOut']
export type LeaveIn = Schemas['LeaveIn']
export type Person = Schemas['PersonOut']

/** The posts in the order the staff list shows them. */
export const POSTS = ['community_staff', 'subdistrict_staff', 'leader', 'block_chief', 'grid_chief', 'grid_worker', 'building_head'] as const
/** Roles whose posts have a backup and leave (AB岗): the staff roles, never an administrator's. */
export const POST_ROLES = ['grid_worker', 'block_chief', 'community_staff', 'subdistrict_staff', 'department_handler', 'leader']
/** Roles that set the backup and leave of the people working in their area. */
export const MANAGER_ROLES = ['community_staff', 'subdistrict_staff', 'leader']

const POSTS_BASE = '/api/v1/accounts/posts'

export const staffing = {
  staff: (areaCode: string, reveal = false) =>
    api.get<Staffing>(`/api/v1/territory/areas/${encodeURIComponent(areaCode)}/staff`, reveal ? { reveal: true } : undefined),
  post: (userId: number) => api.get<PostInfo>(`${POSTS_BASE}/${userId}`),
  setBackup: (userId: number, backupId: number | null) => api.post<PostInfo>(`${POSTS_BASE}/${userId}/backup`, { backup_id: backupId }),
  recordLeave: (userId: number, body: LeaveIn) => api.post<Leave>(`${POSTS_BASE}/${userId}/leaves`, body),
  endLeave: (leaveId: number) => api.post<Leave>(`${POSTS_BASE}/leaves/${leaveId}/end`),
  /** Who stands in during a planned or ongoing leave, changed in place: to-dos and unread notices follow. */
  changeBackup: (leaveId: number, backupId: number) =>
    api.request<Leave>('PATCH', `${POSTS_BASE}/leaves/${leaveId}`, { body: { backup_id: backupId } }),
}
