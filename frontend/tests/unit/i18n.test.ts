import { describe, expect, it } from 'vitest'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import zhCN from '@/i18n/zh-CN'
import en from '@/i18n/en'
import { ACTIONS } from '@/lib/actions'
import { CASE_STATUSES, CHANNELS, CASE_KINDS } from '@/api/types'

type Tree = { [key: string]: string | Tree }

function keys(tree: Tree, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([k, v]) => (typeof v === 'string' ? [`${prefix}${k}`] : keys(v, `${prefix}${k}.`)))
}

function lookup(tree: Tree, key: string): string | Tree | undefined {
  return key.split('.').reduce<string | Tree | undefined>((node, part) => (node && typeof node === 'object' ? node[part] : undefined), tree)
}

describe('translations', () => {
  const zhKeys = keys(zhCN as unknown as Tree)
  const enKeys = keys(en as unknown as Tree)

  it('has every key in both zh-CN and en', () => {
    expect(zhKeys.filter((k) => !enKeys.includes(k))).toEqual([])
    expect(enKeys.filter((k) => !zhKeys.includes(k))).toEqual([])
  })

  it('has no empty message', () => {
    expect(zhKeys.filter((k) => !lookup(zhCN as unknown as Tree, k))).toEqual([])
    expect(enKeys.filter((k) => !lookup(en as unknown as Tree, k))).toEqual([])
  })

  it('uses the same placeholders in both languages', () => {
    const names = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()
    const differ = zhKeys.filter((k) => JSON.stringify(names(String(lookup(zhCN as unknown as Tree, k)))) !== JSON.stringify(names(String(lookup(en as unknown as Tree, k)))))
    expect(differ).toEqual([])
  })

  it('names every status, channel, kind and action', () => {
    for (const s of CASE_STATUSES) expect(zhCN.status[s]).toBeTruthy()
    for (const c of CHANNELS) expect(zhCN.channel[c]).toBeTruthy()
    for (const k of CASE_KINDS) expect(zhCN.kind[k]).toBeTruthy()
    for (const a of Object.keys(ACTIONS)) expect((zhCN.action as Record<string, string>)[a]).toBeTruthy()
  })

  it('resolves every literal key used by the components', () => {
    const src = join(__dirname, '..', '..', 'src')
    const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]))
    const used = new Set<string>()
    for (const file of files(src).filter((f) => /\.(vue|ts)$/.test(f))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/\bt\('([a-zA-Z]+\.[a-zA-Z.]+)'/g)) used.add(m[1])
    }
    expect(used.size).toBeGreaterThan(50)
    const missing = [...used].filter((k) => typeof lookup(zhCN as unknown as Tree, k) !== 'string' || typeof lookup(en as unknown as Tree, k) !== 'string')
    expect(missing).toEqual([])
  })
})
