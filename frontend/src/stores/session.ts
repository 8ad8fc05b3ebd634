/** Who is logged in. A 401 that ends the session clears it and leaves a message for the login screen. */
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { api, auth } from '@/api'
import type { Me } from '@/api/types'
import { areaLabel, hasRole } from '@/lib/roles'
import { fromServer, serverLanguage, setLanguage, type Language } from '@/i18n'

export const useSession = defineStore('session', () => {
  const me = ref<Me | null>(null)
  const checked = ref(false)
  /** Why the user is back at the login screen (i18n key), e.g. login.expired. */
  const endedReason = ref<string>('')

  const loggedIn = computed(() => me.value !== null)
  const area = computed(() => areaLabel(me.value))

  /** The language kept on the account wins once the user is known (login, a reload). */
  function applyLanguage() {
    const chosen = fromServer(me.value?.preferred_language)
    if (chosen) setLanguage(chosen)
  }

  /** Switch the language now and, when someone is logged in, keep it on their account. */
  async function chooseLanguage(language: Language): Promise<boolean> {
    setLanguage(language)
    if (!me.value) return true
    try {
      me.value = await auth.setLanguage(serverLanguage(language))
      return true
    } catch {
      return false
    }
  }

  async function load(): Promise<Me | null> {
    try {
      me.value = await auth.me()
      applyLanguage()
      api.loggedIn = true
    } catch {
      me.value = null
    } finally {
      checked.value = true
    }
    return me.value
  }

  async function login(username: string, password: string, totp?: string) {
    me.value = await auth.login(username, password, totp)
    applyLanguage()
    checked.value = true
    endedReason.value = ''
    return me.value
  }

  async function logout() {
    try {
      await auth.logout()
    } finally {
      me.value = null
      endedReason.value = 'login.loggedOut'
    }
  }

  function sessionEnded() {
    me.value = null
    endedReason.value = 'login.expired'
  }

  function is(...roles: string[]) {
    return hasRole(me.value, roles)
  }

  return { me, checked, endedReason, loggedIn, area, load, login, logout, sessionEnded, is, chooseLanguage }
})
