/// <reference types="vite/client" />
declare module '*.vue' {
  import type { DefineComponent } from 'vue'
  const component: DefineComponent<object, object, unknown>
  export default component
}

interface GridGovConfig {
  /** Map tile URL template of the operator's tile server ({z}/{x}/{y}); empty = polygons on a blank base. */
  tileUrl: string
  /** Attribution shown with the tiles. */
  tileAttribution?: string
  /** The UI language when the user has not chosen one. */
  language: string
}

interface Window {
  GRIDGOV_CONFIG?: GridGovConfig
}
