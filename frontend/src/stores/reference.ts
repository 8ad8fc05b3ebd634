/** Reference data every case screen needs, loaded once: categories, departments, whistle items. */
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { accounts, cases } from '@/api'
import type { Category, Organisation, WhistleItem } from '@/api/types'

export const useReference = defineStore('reference', () => {
  const categories = ref<Category[]>([])
  const departments = ref<Organisation[]>([])
  const whistleItems = ref<WhistleItem[]>([])
  let loading: Promise<void> | null = null

  const leafCategories = computed(() => categories.value.flatMap((c) => c.children ?? []))
  const departmentName = (code: string) => departments.value.find((d) => d.code === code)?.name ?? code

  function loadCategories() {
    if (categories.value.length) return Promise.resolve()
    return cases.categories().then((list) => {
      categories.value = list
    })
  }

  function loadDispatch() {
    if (!loading) {
      loading = Promise.all([
        loadCategories(),
        accounts.departments().then((p) => (departments.value = p.items)),
        cases.whistleItems().then((list) => (whistleItems.value = list)),
      ]).then(() => undefined)
      loading.catch(() => {
        loading = null
      })
    }
    return loading
  }

  return { categories, departments, whistleItems, leafCategories, departmentName, loadCategories, loadDispatch }
})
