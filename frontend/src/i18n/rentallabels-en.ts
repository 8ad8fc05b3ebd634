/** Texts of the rental houses' QR label sheet (one house, one code) and the rectification case. */
export default {
  print: 'Print QR labels',
  printOne: 'Print this house’s QR label',
  printHint: 'A4 labels for the current filters (21 a page, at most 500 at a time) with the QR code, the grade’s colour, the address and the house code — nothing about a person.',
  done: 'Saved {name}',
  rectification: 'Rectification case',
}
