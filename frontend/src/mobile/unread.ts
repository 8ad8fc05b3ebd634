/** The phone's unread notification count (the 消息 tab's badge), shared by the tab bar and the list. */
import { ref } from 'vue'
import { cases } from '@/api'

const count = ref(0)

export function useUnread() {
  return count
}

export async function refreshUnread(): Promise<void> {
  count.value = (await cases.notifications({ unread: true, page_size: 1 }).catch(() => ({ count: count.value }))).count
}
