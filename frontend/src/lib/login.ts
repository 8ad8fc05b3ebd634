/** `useLogin`: the state and steps of the login screens (desktop and phone): the credentials, the second
 * factor when the server asks for it, the errors in the user's language, and the change of a password an
 * administrator set, which must be made before anything else; and the demo password when (only when) the
 * server holds the demo. `home` is where a login without a `?next=` goes. */
import { computed, onMounted, reactive, ref } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import { useI18n } from 'vue-i18n'
import { ApiError, auth } from '@/api'
import { useSession } from '@/stores/session'
import { own } from '@/api/admin'

export interface LoginError {
  title: string
  detail: string
  locked: boolean
}

export function useLogin(home: string) {
  const { t } = useI18n()
  const session = useSession()
  const route = useRoute()
  const router = useRouter()
  const form = reactive({ username: '', password: '', totp: '' })
  const change = reactive({ old: '', next: '', confirm: '' })
  const needTotp = ref(false)
  const busy = ref(false)
  const error = ref<LoginError | null>(null)
  const notice = computed(() => (session.endedReason ? t(session.endedReason) : ''))
  const mustChange = computed(() => !!session.me?.password_change_required)
  /** The demo password, only when the server holds the demo's logins (GET /auth/login-info). */
  const demoPassword = ref<string | null>(null)
  onMounted(async () => {
    demoPassword.value = (await own.loginInfo().catch(() => null))?.demo_password ?? null
  })

  function goOn() {
    const next = typeof route.query.next === 'string' && route.query.next.startsWith('/') ? route.query.next : home
    router.replace(next)
  }

  function showError(e: unknown) {
    if (e instanceof ApiError) {
      if (e.code === 'totp-required') needTotp.value = true
      const fields = e.errors?.map((x) => x.message).join(' ') ?? ''
      const locked = e.code === 'locked'
      error.value = { title: locked ? t('login.locked') : e.title, detail: fields || e.detail, locked }
    } else error.value = { title: t('errors.title'), detail: String(e), locked: false }
  }

  async function run(step: () => Promise<void>) {
    busy.value = true
    try {
      await step()
    } catch (e) {
      showError(e)
    } finally {
      busy.value = false
    }
  }

  function submit() {
    error.value = null
    return run(async () => {
      const me = await session.login(form.username.trim(), form.password, form.totp.trim() || undefined)
      if (me?.password_change_required) change.old = form.password
      else goOn()
    })
  }

  function submitChange() {
    error.value = null
    if (change.next !== change.confirm) {
      error.value = { title: t('login.changeTitle'), detail: t('login.mismatch'), locked: false }
      return Promise.resolve()
    }
    return run(async () => {
      await auth.changePassword(change.old, change.next)
      await session.load()
      goOn()
    })
  }

  return { form, change, needTotp, busy, error, notice, mustChange, demoPassword, submit, submitChange }
}
