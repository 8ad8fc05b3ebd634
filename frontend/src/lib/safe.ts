/** Text from the server (area and layer names, case text, anything a user or an imported file wrote) never
 * reaches an API that takes HTML as HTML. Leaflet's bindTooltip/bindPopup/attribution, ECharts tooltip
 * formatters and divIcon `html` all parse strings as markup: give them `textNode(…)` (a DOM element whose
 * text is set with textContent) or `escapeHtml(…)`. In templates use {{ }} and never v-html. */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml(text: unknown): string {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c])
}

/** A <span> showing `text` as text (for Leaflet tooltips and popups). */
export function textNode(text: unknown): HTMLElement {
  const el = document.createElement('span')
  el.textContent = String(text ?? '')
  return el
}
