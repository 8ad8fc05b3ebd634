/** `useFieldErrors`: the server's message for each field of a form (problem+json `errors[]`), keyed by the
 * form's field name (`body.name` → `name`), for `<el-form-item :error="fields.errors.name">`: the reason
 * shows under the field it is about, in the user's language. */
import { reactive } from 'vue'
import { ApiError } from '@/api/client'

export function useFieldErrors() {
  const errors = reactive<Record<string, string>>({})

  function clear() {
    for (const key of Object.keys(errors)) delete errors[key]
  }

  /** Clear, then take the field messages of a failed request; true when the server named a field. */
  function take(e: unknown): boolean {
    clear()
    if (e instanceof ApiError) {
      for (const fe of e.errors) errors[fe.field.replace(/^(body|form)\./, '')] = fe.message
    }
    return Object.keys(errors).length > 0
  }

  return { errors, clear, take }
}
