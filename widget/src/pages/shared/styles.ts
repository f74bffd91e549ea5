// Stylesheets are injected as <style> tags (the bundles have no CSS loader). The reset below is
// what every full page (console, inbox, sandbox) starts from; the CRM panel is scoped and has none.

export interface ResetOptions {
  /** body's `font` shorthand. */
  font: string;
  color: string;
  background: string;
  /** Pages that fill the viewport (inbox, sandbox) stretch html, body and #app. */
  fullHeight?: boolean;
}

export function resetCss(o: ResetOptions): string {
  return `
*, *::before, *::after { box-sizing: border-box; }
html, body { margin: 0; padding: 0;${o.fullHeight ? " height: 100%;" : ""} }
body { font: ${o.font}; color: ${o.color}; background: ${o.background}; -webkit-text-size-adjust: 100%; }
${o.fullHeight ? "#app { height: 100%; }\n" : ""}button, input, select, textarea { font: inherit; color: inherit; }
button { cursor: pointer; }
button:disabled { cursor: default; }
`;
}

export const SYSTEM_FONT = `system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif`;

/** Adds `css` once, as a <style id={id}> in `doc`'s head. */
export function injectCss(id: string, css: string, doc: Document = document): void {
  if (doc.getElementById(id)) return;
  const style = doc.createElement("style");
  style.id = id;
  style.textContent = css;
  doc.head.appendChild(style);
}

/** The backend's shell has the viewport tag; a page opened some other way still needs it on a phone. */
export function ensureViewport(doc: Document = document): void {
  if (doc.querySelector('meta[name="viewport"]')) return;
  const m = doc.createElement("meta");
  m.name = "viewport";
  m.content = "width=device-width, initial-scale=1";
  doc.head.appendChild(m);
}
