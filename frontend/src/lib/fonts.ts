/** Chinese glyphs come from the bundled Noto Sans SC subsets only where the system has no CJK font.
 * Chromium keeps the boxes (tofu) it drew for text painted before a subset arrived; re-shaping the text
 * when a subset has loaded (a font-feature toggle on the root) repaints it with the real glyphs. */
export function repaintWhenFontsLoad(doc: Document = document) {
  const fonts = (doc as Document & { fonts?: FontFaceSet }).fonts
  if (!fonts || typeof fonts.addEventListener !== 'function') return
  fonts.addEventListener('loadingdone', () => doc.documentElement.classList.toggle('gg-fonts-reshaped'))
}
