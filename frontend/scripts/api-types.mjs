#!/usr/bin/env node
// The API types of the web app, generated from the server's OpenAPI document (never written by hand).
//
//   node scripts/api-types.mjs            export the document with Django Ninja's export_openapi_schema
//                                          (no server needed) and write src/api/schema.d.ts
//   node scripts/api-types.mjs --check    fail if the committed src/api/schema.d.ts differs from a fresh
//                                          generation (a backend schema change without `make api-types`)
//   node scripts/api-types.mjs --from F   use the OpenAPI document in file F instead of exporting one
//
// `make api-types` runs the first form, `make test` the second. UV names the uv command (default: uv).
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript'

const here = dirname(fileURLToPath(import.meta.url))
const repo = join(here, '..', '..')
const target = join(here, '..', 'src', 'api', 'schema.d.ts')

const args = process.argv.slice(2)
const check = args.includes('--check')
const fromIndex = args.indexOf('--from')

function exportDocument() {
  const dir = mkdtempSync(join(tmpdir(), 'gridgov-openapi-'))
  const file = join(dir, 'openapi.json')
  try {
    const [uv, ...uvArgs] = (process.env.UV || 'uv').split(' ').filter(Boolean)
    execFileSync(
      uv,
      [...uvArgs, 'run', 'python', 'manage.py', 'export_openapi_schema', '--api', 'gridgov.core.api.api', '--sorted', '--output', file],
      { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] },
    )
    return JSON.parse(readFileSync(file, 'utf8'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The text of schema.d.ts for an OpenAPI document (what `npx openapi-typescript doc.json` writes). */
async function generate(document) {
  const ast = await openapiTS(document)
  return COMMENT_HEADER + astToString(ast)
}

const document = fromIndex >= 0 ? JSON.parse(readFileSync(args[fromIndex + 1], 'utf8')) : exportDocument()
const fresh = await generate(document)

if (check) {
  const committed = existsSync(target) ? readFileSync(target, 'utf8') : ''
  if (committed !== fresh) {
    const a = committed.split('\n')
    const b = fresh.split('\n')
    let line = 0
    while (line < Math.max(a.length, b.length) && a[line] === b[line]) line++
    console.error(
      `frontend/src/api/schema.d.ts is out of date with the server's OpenAPI document (first difference at line ${line + 1}:\n` +
        `  committed: ${a[line] ?? '(end of file)'}\n  generated: ${b[line] ?? '(end of file)'}).\n` +
        'Run `make api-types` and commit the result.',
    )
    process.exit(1)
  }
  console.log('frontend/src/api/schema.d.ts matches the OpenAPI document')
} else {
  writeFileSync(target, fresh)
  console.log(`wrote ${target}`)
}
