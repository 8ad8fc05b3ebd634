/** AB岗 hand-overs: who acted for whom on the timeline, changing who stands in during a leave. */
export default {
  onBehalfOf: '（代{name}）',
  change: '更换',
  changeBackup: '更换代班人',
  save: '保存',
  cancel: '取消',
  backupChanged: '已改由 {name} 代班：待办和未读通知已转给 {name}',
}
