#!/usr/bin/env node
// After `vite build`: the initial JavaScript of each entry = its chunk plus every chunk it imports
// statically (transitively), gzip-compressed, from the Vite manifest. The desktop entry must stay within
// the budget; the build fails otherwise. Also fails if any built file names a CDN.
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const BUDGET_KB = 400
const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'gridgov', 'static', 'app')
const manifest = JSON.parse(readFileSync(join(out, '.vite', 'manifest.json'), 'utf8'))

function initial(entryKey) {
  const seen = new Set()
  const css = new Set()
  const walk = (key) => {
    const chunk = manifest[key]
    if (!chunk || seen.has(key)) return
    seen.add(key)
    for (const c of chunk.css ?? []) css.add(c)
    for (const i of chunk.imports ?? []) walk(i)
  }
  walk(entryKey)
  const files = [...seen].map((k) => manifest[k].file).filter((f) => f.endsWith('.js'))
  const size = (list) => list.reduce((sum, f) => sum + gzipSync(readFileSync(join(out, f)), { level: 9 }).length, 0)
  return { files, js: size(files), css: size([...css]) }
}

const kb = (n) => (n / 1024).toFixed(1)
let failed = false
for (const [name, key] of [
  ['desktop', 'index.html'],
  ['mobile', 'm.html'],
]) {
  if (!manifest[key]) {
    console.error(`initial-js: no entry ${key} in the manifest`)
    process.exit(1)
  }
  const r = initial(key)
  const over = name === 'desktop' && r.js > BUDGET_KB * 1024
  failed ||= over
  console.log(
    `initial JS (${name} entry ${key}): ${kb(r.js)} KB gzip in ${r.files.length} chunks` +
      (name === 'desktop' ? ` (budget ${BUDGET_KB} KB${over ? ' — OVER' : ''})` : '') +
      `; initial CSS ${kb(r.css)} KB gzip`,
  )
}

// Nothing in the build may load from a CDN (intranets have none).
const cdn = /(?:https?:)?\/\/(?:[a-z0-9-]+\.)*(?:jsdelivr\.net|unpkg\.com|alicdn\.com|cdnjs\.cloudflare\.com|googleapis\.com|gstatic\.com|bootcdn\.net|staticfile\.org)/i
const walkDir = (dir) => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walkDir(join(dir, f)) : [join(dir, f)]))
for (const file of walkDir(out).filter((f) => /\.(js|css|html)$/.test(f))) {
  const m = readFileSync(file, 'utf8').match(cdn)
  if (m) {
    console.error(`initial-js: ${file.slice(out.length + 1)} names a CDN: ${m[0]}`)
    failed = true
  }
}
if (failed) process.exit(1)
