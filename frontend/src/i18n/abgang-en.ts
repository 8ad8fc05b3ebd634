/** A/B posts hand-overs: who acted for whom on the timeline, changing who stands in during a leave. */
export default {
  onBehalfOf: ' (on behalf of {name})',
  change: 'Change',
  changeBackup: 'Change who stands in',
  save: 'Save',
  cancel: 'Cancel',
  backupChanged: '{name} stands in now: the to-dos and unread notices went to {name}',
}
