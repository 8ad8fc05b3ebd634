/** The one way the app saves a file: `downloadFile` asks the server (session cookie, CSRF header on a
 * write, the UI language), turns a problem+json answer into an ApiError whose message is in the user's
 * language, names the file from Content-Disposition (RFC 5987 first) and hands it to the browser;
 * `saveBlob` saves a file made in the browser (e.g. an ExcelJS workbook). */
import { api } from '@/api'
import type { Query } from '@/api/client'

export interface DownloadOptions {
  method?: 'GET' | 'POST'
  /** JSON body of a POST (e.g. the filters of an export). */
  body?: unknown
  query?: Query
  /** The name when the server sends none. */
  fileName?: string
}

/** Hands a Blob to the browser as a file called `fileName`. */
export function saveBlob(blob: Blob, fileName: string) {
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = fileName
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}

/** Downloads `path` and saves it; resolves to the file name used. Throws ApiError on a failed answer. */
export async function downloadFile(path: string, options: DownloadOptions = {}): Promise<string> {
  const [bare, search] = path.split('?', 2)
  const query: Query = { ...Object.fromEntries(new URLSearchParams(search ?? '')), ...(options.query ?? {}) }
  const { blob, fileName } = await api.download(options.method ?? 'GET', bare, options.body, query)
  const name = fileName || options.fileName || bare.split('/').filter(Boolean).pop() || 'download'
  saveBlob(blob, name)
  return name
}
