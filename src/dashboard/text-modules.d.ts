/** Files bundled as text by the `rules` in wrangler.jsonc (served by the dashboard as static assets). */
declare module '*.client.js' {
  const text: string;
  export default text;
}
declare module '*.css' {
  const text: string;
  export default text;
}
declare module 'uplot/dist/uPlot.iife.min.js' {
  const text: string;
  export default text;
}
