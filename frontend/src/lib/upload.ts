/** Upload limits and checks shared by the upload component (desktop) and the phone pages' camera uploader.
 * The limits mirror the server's defaults so a person learns at once that a file is too large; the server
 * checks again (GRIDGOV_UPLOAD_MAX_BYTES, GRIDGOV_REGISTRY_IMPORT_MAX_BYTES, the layer limit). */
import { ApiError } from '@/api/client'

export const MB = 1024 * 1024

/** What a failed upload tells the person: the server's own reasons (the messages of its problem+json field
 * errors, e.g. "请上传 JPEG、PNG 或 WebP 格式的照片"), else its detail, else its title; never the bare
 * field list of the generic detail ("请更正：file"). */
export function uploadErrorMessage(e: unknown): string {
  if (e instanceof ApiError) {
    const reasons = [...new Set(e.errors.map((x) => x.message).filter(Boolean))]
    if (reasons.length) return reasons.join('；')
    return e.detail || e.title
  }
  return e instanceof Error ? e.message : String(e)
}

export const UPLOAD_LIMITS = {
  photo: 10 * MB,
  registryImport: 512 * MB,
  layer: 50 * MB,
} as const

/** The files over the limit (none when `maxBytes` is 0 or absent). */
export function oversized<F extends { size: number }>(files: F[], maxBytes?: number): F[] {
  return maxBytes ? files.filter((f) => f.size > maxBytes) : []
}

/** The limit in whole megabytes, for messages. */
export const megabytes = (bytes: number) => Math.max(1, Math.round(bytes / MB))

/** Sends one file with its progress: the function a caller passes to the upload component. */
export type UploadTask<T> = (onProgress: (percent: number) => void) => Promise<T>

/** What the upload component lets its form do (`ref="uploader"`): send with progress, clear the input. */
export interface UploadControl {
  run<R>(task: UploadTask<R>, options?: { quiet?: boolean }): Promise<R>
  clear(): void
}

/** A file of the phone pages' camera uploader (Vant's van-uploader item). */
export interface UploaderItem {
  file?: File
  status?: '' | 'uploading' | 'done' | 'failed'
  message?: string
}

/** Sends one camera photo with the same size check, progress and error message as the upload component,
 * shown on the Vant item; resolves to the server's answer, or null when it failed (the item says why). */
export async function uploadItem<T>(
  item: UploaderItem,
  send: (file: File, onProgress: (percent: number) => void) => Promise<T>,
  text: { tooLarge: (name: string, mb: number) => string; progress: (percent: number) => string; error: (e: unknown) => string },
  maxBytes: number = UPLOAD_LIMITS.photo,
): Promise<T | null> {
  const file = item.file
  if (!file) return null
  if (oversized([file], maxBytes).length) {
    item.status = 'failed'
    item.message = text.tooLarge(file.name, megabytes(maxBytes))
    return null
  }
  item.status = 'uploading'
  item.message = text.progress(0)
  try {
    const out = await send(file, (p) => (item.message = text.progress(p)))
    item.status = 'done'
    item.message = ''
    return out
  } catch (e) {
    item.status = 'failed'
    item.message = text.error(e)
    return null
  }
}
