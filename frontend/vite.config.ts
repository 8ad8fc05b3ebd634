/// <reference types="vitest/config" />
import { fileURLToPath, URL } from 'node:url'
import { defineConfig, type Plugin } from 'vite'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver, VantResolver } from 'unplugin-vue-components/resolvers'

/** Vant's icon font lists a CDN woff after its inline woff2; drop every remote url() so nothing in the
 * build can reach a CDN (intranets have none). */
function noRemoteCssUrls(): Plugin {
  const remote = /,\s*url\((["']?)(?:https?:)?\/\/[^)]*\)\s*format\(["']?[a-z0-9]+["']?\)/gi
  return {
    name: 'gridgov-no-remote-css-urls',
    enforce: 'post',
    transform(code, id) {
      if (!id.includes('.css')) return null
      return remote.test(code) ? { code: code.replace(remote, ''), map: null } : null
    },
    generateBundle(_options, bundle) {
      for (const file of Object.values(bundle)) {
        if (file.type === 'asset' && file.fileName.endsWith('.css') && typeof file.source === 'string') {
          file.source = file.source.replace(remote, '')
        }
      }
    },
  }
}

export default defineConfig({
  base: '/static/app/',
  plugins: [
    vue(),
    Components({
      dts: false,
      dirs: [],
      resolvers: [ElementPlusResolver({ importStyle: 'css' }), VantResolver({ importStyle: 'css' })],
    }),
    noRemoteCssUrls(),
  ],
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  define: {
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
    __VUE_PROD_DEVTOOLS__: false,
  },
  build: {
    outDir: fileURLToPath(new URL('../src/gridgov/static/app', import.meta.url)),
    emptyOutDir: true,
    manifest: true,
    chunkSizeWarningLimit: 1500,
    // Font subsets stay files (loaded only for the characters a page shows), never inlined into CSS.
    assetsInlineLimit: (file: string) => (/\.woff2?$/.test(file) ? false : undefined),
    rollupOptions: {
      input: {
        desktop: fileURLToPath(new URL('./index.html', import.meta.url)),
        mobile: fileURLToPath(new URL('./m.html', import.meta.url)),
      },
    },
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8000', '/app': 'http://127.0.0.1:8000', '/m': 'http://127.0.0.1:8000' },
  },
  test: {
    environment: 'happy-dom',
    include: ['tests/unit/**/*.test.ts'],
    // Components that use Element Plus import its CSS: let Vite handle those imports in unit tests.
    server: { deps: { inline: ['element-plus'] } },
  },
})
