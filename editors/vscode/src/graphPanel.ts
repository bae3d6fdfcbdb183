// "KFL: Show pipeline graph": runs `kflc graph FILE --format mermaid` and shows the result in a
// webview, drawn by the mermaid copy bundled in media/mermaid (no network access).
import { execFile } from 'child_process';
import * as crypto from 'crypto';
import * as path from 'path';
import * as vscode from 'vscode';
import { renderGraphHtml } from './graphHtml';
import { kflcCommand } from './server';

export interface GraphResult {
  diagram?: string;
  error?: string;
}

/** Runs `kflc graph FILE --format mermaid`. */
export function runKflcGraph(file: string): Promise<GraphResult> {
  const resolved = kflcCommand(vscode.Uri.file(file));
  if (!resolved.command) return Promise.resolve({ error: `Cannot run kflc: ${resolved.problem}.` });
  const command = resolved.command;
  const args = ['graph', file, '--format', 'mermaid'];
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: path.dirname(file), timeout: 60_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } },
      (err, stdout, stderr) => {
        if (err) {
          const e = err as NodeJS.ErrnoException;
          if (e.code === 'ENOENT') {
            resolve({
              error:
                `Cannot run \`${command}\`: not found. Install kflc (pip install kflc) or set ` +
                '"kfl.server.path" to its location.',
            });
          } else {
            const output = (stderr || stdout || String(err)).trim();
            resolve({ error: `\`${command} ${args.join(' ')}\` failed:\n\n${output}` });
          }
          return;
        }
        resolve({ diagram: stdout });
      },
    );
  });
}

export class GraphPanel {
  private static readonly panels = new Map<string, GraphPanel>();

  static show(context: vscode.ExtensionContext, document: vscode.TextDocument): void {
    const key = document.uri.toString();
    const existing = GraphPanel.panels.get(key);
    if (existing) {
      existing.panel.reveal(undefined, true);
      void existing.refresh();
      return;
    }
    GraphPanel.panels.set(key, new GraphPanel(context, document));
  }

  /** Redraws the graph of a file after it was saved, if its panel is open. */
  static refreshIfOpen(document: vscode.TextDocument): void {
    void GraphPanel.panels.get(document.uri.toString())?.refresh();
  }

  private readonly panel: vscode.WebviewPanel;
  private readonly media: vscode.Uri;
  private readonly disposables: vscode.Disposable[] = [];
  private generation = 0;

  private constructor(
    context: vscode.ExtensionContext,
    private readonly document: vscode.TextDocument,
  ) {
    this.media = vscode.Uri.joinPath(context.extensionUri, 'media');
    this.panel = vscode.window.createWebviewPanel(
      'kfl.graph',
      `Graph: ${path.basename(document.uri.fsPath)}`,
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { enableScripts: true, localResourceRoots: [this.media] },
    );
    this.panel.onDidDispose(() => this.dispose(), null, this.disposables);
    this.panel.webview.onDidReceiveMessage(
      async (message: { type?: string; text?: string }) => {
        if (message.type === 'copy' && typeof message.text === 'string') {
          await vscode.env.clipboard.writeText(message.text);
          void vscode.window.setStatusBarMessage('Mermaid source copied', 3000);
        } else if (message.type === 'refresh') {
          await this.refresh();
        } else if (message.type === 'openRunViewer') {
          // The same run page as "KFL: Open run viewer", for this graph's file.
          await vscode.commands.executeCommand('kfl.openRunViewer', this.document.uri);
        }
      },
      null,
      this.disposables,
    );
    void this.refresh();
  }

  async refresh(): Promise<void> {
    const generation = ++this.generation;
    const file = this.document.uri.fsPath;
    const result = await runKflcGraph(file);
    if (generation !== this.generation) return; // a newer refresh is under way
    const webview = this.panel.webview;
    this.panel.webview.html = renderGraphHtml({
      cspSource: webview.cspSource,
      nonce: crypto.randomBytes(16).toString('base64'),
      mermaidUri: webview.asWebviewUri(vscode.Uri.joinPath(this.media, 'mermaid', 'mermaid.min.js')).toString(),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(this.media, 'graph.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(this.media, 'graph.css')).toString(),
      title: path.basename(file),
      diagram: result.diagram,
      error: result.error,
      note: this.document.isDirty ? 'The file has unsaved changes: this is the graph of the saved file.' : undefined,
    });
  }

  private dispose(): void {
    GraphPanel.panels.delete(this.document.uri.toString());
    this.disposables.forEach((d) => d.dispose());
  }
}
