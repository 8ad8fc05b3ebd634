import { createApp, watch } from 'vue'
import { createPinia } from 'pinia'
import { Locale } from 'vant'
import enUS from 'vant/es/locale/lang/en-US'
import zhCN from 'vant/es/locale/lang/zh-CN'
import '@fontsource/noto-sans-sc/400.css'
import 'vant/es/style/base.css'
import 'vant/es/toast/style/index.mjs'
import 'vant/es/dialog/style/index.mjs'
import App from './App.vue'
import { router } from './router'
import { i18n, currentLanguage } from '@/i18n'
import { configureApi } from '@/api'
import { useSession } from '@/stores/session'
import { repaintWhenFontsLoad } from '@/lib/fonts'

repaintWhenFontsLoad()

const app = createApp(App)
const pinia = createPinia()
app.use(pinia).use(i18n)
const session = useSession(pinia)
configureApi(currentLanguage, () => {
  session.sessionEnded()
  const here = router.currentRoute.value
  if (here.name !== 'login') router.replace({ name: 'login', query: { next: here.fullPath } })
})

function applyVantLocale() {
  if (currentLanguage() === 'en') Locale.use('en-US', enUS)
  else Locale.use('zh-CN', zhCN)
  document.documentElement.lang = currentLanguage()
}
applyVantLocale()
watch(i18n.global.locale, applyVantLocale)

app.use(router)
router.isReady().then(() => app.mount('#app'))
