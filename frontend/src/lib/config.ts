/** The deployment's settings for the web app. The server writes them into the page as a JSON data block
 * (`<script type="application/json" id="gridgov-config">`): data, never code, so the Content-Security-Policy
 * can refuse every inline script. */
export interface GridGovConfig {
  /** Map tile URL template of the operator's tile server ({z}/{x}/{y}); empty = polygons on a blank base. */
  tileUrl: string
  /** Attribution shown with the tiles (plain text). */
  tileAttribution: string
  /** The UI language when the user has not chosen one. */
  language: string
}

const DEFAULTS: GridGovConfig = { tileUrl: '', tileAttribution: '', language: 'zh-CN' }
let cached: GridGovConfig | null = null

export function appConfig(): GridGovConfig {
  if (cached) return cached
  let parsed: Partial<GridGovConfig> = {}
  try {
    const text = document.getElementById('gridgov-config')?.textContent
    parsed = text ? (JSON.parse(text) as Partial<GridGovConfig>) : {}
  } catch {
    parsed = {}
  }
  cached = { ...DEFAULTS, ...parsed }
  return cached
}
