/** Where the device is: the browser's Geolocation API answers in WGS-84 (GPS), so the point is sent with
 * crs "wgs84"; the server converts other systems at the edge. */
import type { Crs } from '@/api/types'

export interface DevicePoint {
  lng: number
  lat: number
  crs: Crs
  accuracy: number | null
}

export function currentPosition(timeoutMs = 10000): Promise<DevicePoint> {
  return new Promise((resolve, reject) => {
    if (!('geolocation' in navigator)) {
      reject(new Error('geolocation-unavailable'))
      return
    }
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lng: p.coords.longitude, lat: p.coords.latitude, crs: 'wgs84', accuracy: p.coords.accuracy ?? null }),
      (e) => reject(new Error(e.message || 'geolocation-failed')),
      { enableHighAccuracy: true, timeout: timeoutMs, maximumAge: 30000 },
    )
  })
}

/** Map clicks: the base map draws WGS-84 polygons (and an operator's tiles are expected in WGS-84 /
 * CGCS2000 too, like 天地图), so a point picked on the map is WGS-84. */
export const MAP_CRS: Crs = 'wgs84'

/** A colour ramp for choropleths: light to dark red in five classes. */
export const RAMP = ['#fde0dd', '#fcc5c0', '#fa9fb5', '#f768a1', '#c51b8a']

/** The class (0…4) of a value between `min` and `max` (equal-interval). */
export function classOf(value: number, max: number, min = 0): number {
  if (max <= min || value <= min) return 0
  return Math.min(RAMP.length - 1, Math.floor(((value - min) / (max - min)) * RAMP.length))
}
