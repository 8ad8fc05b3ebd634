/** Notifications, the department's phone tasks and handling, the rework reason (notices). */
import type messages from './notices-zh-CN'
import type { noticeActions as zhActions } from './notices-zh-CN'

export const noticeActions: typeof zhActions = {
  follow_up: 'Follow up (unsatisfied)',
}

const en: typeof messages = {
  messages: 'Messages',
  messagesTitle: 'My messages',
  unread: 'Unread',
  read: 'Read',
  noMessages: 'No messages',
  markAllRead: 'Mark all read',
  kind: {
    whistle: 'New case',
    report_in_due: 'Not reported in',
    supervision: 'Supervision',
    escalation: 'Escalated',
    returned: 'Returned',
    rework: 'Rework',
    unsatisfied: 'Unsatisfied rating',
    deadline_yellow: 'Deadline warning',
    deadline_red: 'Overdue',
    outcome: 'Outcome',
  },
  deptTasks: 'Department tasks',
  mySteps: "Your department's steps",
  toReportIn: 'To report in',
  toHandle: 'To handle and feed back',
  noDeptTasks: 'No case waits on your department',
  reportInBy: 'Report in by {due}',
  finishBy: 'Finish by {due}',
  reportIn: 'Report in',
  handleTitle: 'Handling and feedback',
  handleNote: 'What was done',
  handleNoteRequired: 'Describe what was done',
  handleSubmit: 'Send the feedback',
  returnTitle: 'Return',
  returnReason: 'Reason for returning',
  returnReasonRequired: 'Give the reason for returning',
  returnSubmit: 'Return the case',
  returnConfirm: 'Return case {number} to the dispatcher?',
  reworkReason: 'Check notes (required when it fails: what must be redone)',
  reworkReasonRequired: 'Say why the check failed: the handler must know what to redo',
  reworkConfirmTitle: 'Confirm rework',
  reworkConfirm: 'Fail the check and send case {number} back for rework?',
}

export default en
