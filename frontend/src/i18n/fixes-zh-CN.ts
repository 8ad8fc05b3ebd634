/** 缺陷修复（问题 13）新增的界面文字：无权访问提示、采集脱敏、驾驶舱颜色与图例、名称代替编码。 */
export default {
  forbidden: '无权访问该页面',
  submissions: {
    maskedNote: '身份证号、手机号按规则脱敏显示；有权限的社区工作人员可逐条显示明文，每次显示都记入个人信息访问日志。',
    reveal: '显示明文',
    revealed: '已显示明文（已记入访问日志）',
    collector: '采集人',
    building: '楼栋',
  },
  registry: {
    unitName: '单位名称',
    grid: '所属网格',
  },
  dashboard: {
    changePoints: '较上期 {change} 个百分点',
    better: '向好',
    worse: '变差',
    flat: '持平',
    legend: '图例',
    noData: '无数据',
    legendBetter: '绿色为好，红色为差',
    legendCount: '颜色越深数量越多',
    closedNote: '不含合并工单 {merged} 件；工单列表中已结案 {listed} 件',
  },
}
