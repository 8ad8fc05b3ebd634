/** 出租屋统计（工作统计与导出）：界面文字。 */
export default {
  period: '统计期',
  periodHint: '默认最近 30 天，最长 366 天',
  from: '开始日期',
  to: '结束日期',
  activity: '检查与隐患',
  activityHint: '检查及时率：统计期内有应检日期的检查中，在应检日期当天或之前完成的比例（每户的首次检查不计）',
  inspections: '检查次数',
  onTime: '按期 / 应检',
  share: '及时率',
  hazardsOpened: '新发现隐患',
  hazardsClosed: '已办结隐患',
  rectificationOpen: '整治中',
  export: '导出 Excel',
  exported: '已导出 {name}',
}
