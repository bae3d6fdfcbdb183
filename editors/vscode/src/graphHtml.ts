// The HTML of the pipeline graph webview. Kept free of the `vscode` module so that tests can render
// it outside VS Code (in a browser, with the same Content-Security-Policy).

export interface GraphPage {
  /** The webview's `cspSource` (`webview.cspSource`). */
  cspSource: string;
  /** A fresh random nonce; only scripts carrying it may run. */
  nonce: string;
  /** The URI of the bundled mermaid.min.js, as the webview sees it (`webview.asWebviewUri`). */
  mermaidUri: string;
  /** The URI of media/graph.js, the page's own script. */
  scriptUri: string;
  /** The URI of media/graph.css. */
  styleUri: string;
  /** The title shown above the graph (the file name). */
  title: string;
  /** The Mermaid source printed by `kflc graph FILE --format mermaid`, if it succeeded. */
  diagram?: string;
  /** What went wrong instead (kflc's message), if it failed. */
  error?: string;
  /** A remark shown under the title, e.g. that unsaved changes are not shown. */
  note?: string;
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** JSON that can stand inside a `<script type="application/json">` element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Strips a Markdown code fence, in case the source comes wrapped in one. */
export function unfence(diagram: string): string {
  const m = /^\s*```(?:mermaid)?\s*\n([\s\S]*?)\n\s*```\s*$/.exec(diagram);
  return m ? m[1] : diagram;
}

export function renderGraphHtml(page: GraphPage): string {
  const csp = [
    "default-src 'none'",
    `img-src ${page.cspSource} data:`,
    // mermaid puts <style> elements into the SVG it draws.
    `style-src ${page.cspSource} 'unsafe-inline'`,
    `font-src ${page.cspSource} data:`,
    `script-src 'nonce-${page.nonce}'`,
  ].join('; ');
  const data = { diagram: page.diagram === undefined ? null : unfence(page.diagram), error: page.error ?? null };
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeHtml(page.styleUri)}">
<title>${escapeHtml(page.title)}</title>
</head>
<body>
<header>
  <h1>${escapeHtml(page.title)}</h1>
  <div class="actions">
    <button id="fit" type="button" title="Fit the graph to the window or show it at its natural size">Actual size</button>
    <button id="copy" type="button" title="Copy the Mermaid source to the clipboard">Copy Mermaid</button>
    <button id="refresh" type="button" title="Run kflc graph again">Refresh</button>
    <button id="runs" type="button" title="Open this file's newest run in kflc ui, in the browser">Open run viewer</button>
  </div>
</header>
${page.note ? `<p class="note">${escapeHtml(page.note)}</p>` : ''}
<main id="graph" class="fit" aria-live="polite"></main>
<pre id="error" hidden></pre>
<script id="kfl-graph-data" type="application/json">${scriptJson(data)}</script>
<script nonce="${page.nonce}" src="${escapeHtml(page.mermaidUri)}"></script>
<script nonce="${page.nonce}" src="${escapeHtml(page.scriptUri)}"></script>
</body>
</html>
`;
}
