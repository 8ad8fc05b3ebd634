import { describe, expect, it } from 'vitest'
import { escapeHtml, textNode } from '@/lib/safe'

describe('text from the server never becomes markup', () => {
  const payload = '<img src=x onerror=alert(1)>"><script>alert(1)</script>'

  it('escapes every character that opens markup or an attribute', () => {
    expect(escapeHtml(payload)).toBe('&lt;img src=x onerror=alert(1)&gt;&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(escapeHtml("a & 'b'")).toBe('a &amp; &#39;b&#39;')
    expect(escapeHtml(null)).toBe('')
  })

  it('gives Leaflet a node whose text is the text', () => {
    const node = textNode(payload)
    expect(node.textContent).toBe(payload)
    expect(node.children.length).toBe(0)
  })
})
