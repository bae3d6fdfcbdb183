// The script of the pipeline graph webview: draws the Mermaid source that `kflc graph` printed with
// the bundled mermaid (loaded before this file) and talks to the extension through postMessage.
/* global mermaid, acquireVsCodeApi */
(function () {
  'use strict';
  const vscode = typeof acquireVsCodeApi === 'function' ? acquireVsCodeApi() : undefined;
  const data = JSON.parse(document.getElementById('kfl-graph-data').textContent);
  const graph = document.getElementById('graph');
  const errorBox = document.getElementById('error');

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    document.body.dataset.state = 'error';
  }

  document.getElementById('fit').addEventListener('click', (event) => {
    const fit = graph.classList.toggle('fit');
    event.target.textContent = fit ? 'Actual size' : 'Fit to window';
  });
  document.getElementById('copy').addEventListener('click', () => {
    if (vscode && data.diagram) vscode.postMessage({ type: 'copy', text: data.diagram });
  });
  document.getElementById('refresh').addEventListener('click', () => {
    if (vscode) vscode.postMessage({ type: 'refresh' });
  });
  document.getElementById('runs').addEventListener('click', () => {
    if (vscode) vscode.postMessage({ type: 'openRunViewer' });
  });

  if (data.error) {
    showError(data.error);
    return;
  }
  if (typeof mermaid === 'undefined') {
    showError('The bundled mermaid library did not load.');
    return;
  }
  const body = document.body.classList;
  const dark = body.contains('vscode-dark') || body.contains('vscode-high-contrast');
  mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: dark ? 'dark' : 'default' });
  mermaid
    .render('kfl-graph-svg', data.diagram)
    .then(({ svg }) => {
      graph.innerHTML = svg;
      document.body.dataset.state = 'rendered';
    })
    .catch((err) => showError('mermaid could not draw this graph: ' + (err && err.message ? err.message : err)));
})();
