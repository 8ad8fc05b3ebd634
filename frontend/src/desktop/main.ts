import { createApp } from 'vue'
import { createPinia } from 'pinia'
import '@fontsource/noto-sans-sc/400.css'
import 'element-plus/theme-chalk/base.css'
import '@/styles/base.css'
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

app.use(router)
document.documentElement.lang = currentLanguage()
router.isReady().then(() => app.mount('#app'))
