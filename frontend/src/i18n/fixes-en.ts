/** Texts added by the fixes of issue 13: the forbidden-page notice, masked submissions, dashboard colours and
 * legend, names instead of codes. */
export default {
  forbidden: 'You may not open that page',
  submissions: {
    maskedNote: 'ID numbers and phones are masked by the rules; community staff who may see them can reveal one submission at a time, and every reveal is written to the personal-data access log.',
    reveal: 'Show in full',
    revealed: 'Shown in full (written to the access log)',
    collector: 'Collected by',
    building: 'Building',
  },
  registry: {
    unitName: 'Unit name',
    grid: 'Grid',
  },
  dashboard: {
    changePoints: '{change} percentage points vs the previous period',
    better: 'better',
    worse: 'worse',
    flat: 'unchanged',
    legend: 'Legend',
    noData: 'No data',
    legendBetter: 'green is good, red is poor',
    legendCount: 'darker means more',
    closedNote: 'excludes {merged} merged cases; {listed} closed in the case list',
  },
}
