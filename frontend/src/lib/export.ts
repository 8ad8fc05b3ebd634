/** Excel (.xlsx) export of a list, written in the browser with ExcelJS (loaded only when asked for). */
import { saveBlob } from './download'

export interface ExportColumn<T> {
  header: string
  value: (row: T) => string | number | null
  width?: number
}

export function exportRows<T>(rows: T[], columns: ExportColumn<T>[]): Array<Array<string | number | null>> {
  return rows.map((row) => columns.map((c) => c.value(row)))
}

export async function downloadXlsx<T>(fileName: string, sheetName: string, rows: T[], columns: ExportColumn<T>[]) {
  const { default: ExcelJS } = await import('exceljs')
  const workbook = new ExcelJS.Workbook()
  workbook.creator = 'GridGov'
  const sheet = workbook.addWorksheet(sheetName)
  sheet.columns = columns.map((c) => ({ header: c.header, width: c.width ?? 16 }))
  sheet.getRow(1).font = { bold: true }
  sheet.addRows(exportRows(rows, columns))
  const buffer = await workbook.xlsx.writeBuffer()
  saveBlob(new Blob([buffer], { type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' }), fileName)
}
