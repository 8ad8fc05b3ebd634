/** vue-i18n set-up: zh-CN first, English second; the choice is kept in localStorage. */
import { createI18n } from 'vue-i18n'
import { appConfig } from '@/lib/config'
import zhCN from './zh-CN'
import en from './en'

export const LANGUAGES = ['zh-CN', 'en'] as const
export type Language = (typeof LANGUAGES)[number]
const STORAGE_KEY = 'gridgov.language'

export function initialLanguage(): Language {
  let stored: string | null = null
  try {
    stored = localStorage.getItem(STORAGE_KEY)
  } catch {
    stored = null
  }
  const wanted = stored ?? appConfig().language
  return wanted.toLowerCase().startsWith('en') ? 'en' : 'zh-CN'
}

export const i18n = createI18n({
  legacy: false,
  locale: initialLanguage(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN, en },
  missingWarn: false,
  fallbackWarn: false,
})

export function currentLanguage(): Language {
  return i18n.global.locale.value as Language
}

export function setLanguage(language: Language) {
  i18n.global.locale.value = language
  document.documentElement.lang = language
  try {
    localStorage.setItem(STORAGE_KEY, language)
  } catch {
    /* private mode: the choice lasts for this page only */
  }
}

/** The server's name of a language (User.language) and back; '' = not chosen. */
export function serverLanguage(language: Language): 'zh-hans' | 'en' {
  return language === 'en' ? 'en' : 'zh-hans'
}

export function fromServer(code: string | null | undefined): Language | null {
  if (!code) return null
  return code.toLowerCase().startsWith('en') ? 'en' : 'zh-CN'
}

/** A translation of a server code (status, channel, action…) with the code itself as the fallback. */
export function label(group: string, code: string | null | undefined): string {
  if (!code) return '—'
  const key = `${group}.${code}`
  return i18n.global.te(key) ? i18n.global.t(key) : code
}
