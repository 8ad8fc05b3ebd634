/** Printing the QR label sheet of rental houses (一屋一码): the server renders the PDF for the list's filters
 * or one house; a refusal (too many houses, none) comes back as a message in the user's language. */
import { ref } from 'vue'
import { useI18n } from 'vue-i18n'
import { ElMessage } from 'element-plus'
import 'element-plus/es/components/message/style/css'
import { rental } from '@/api/rental'
import { downloadFile } from '@/lib/download'
import { errorMessage } from '@/lib/paged'

export type LabelQuery = Partial<Record<'area' | 'grade' | 'category' | 'due' | 'house', string>>

export function useLabelSheet() {
  const { t } = useI18n()
  const printing = ref(false)

  async function print(query: LabelQuery) {
    printing.value = true
    try {
      const clean = Object.fromEntries(Object.entries(query).filter(([, v]) => v)) as Record<string, string>
      const name = await downloadFile(rental.labelsPath, { query: clean, fileName: 'rental-labels.pdf' })
      ElMessage.success(t('rentallabels.done', { name }))
    } catch (e) {
      ElMessage.error(errorMessage(e))
    } finally {
      printing.value = false
    }
  }

  return { printing, print }
}
