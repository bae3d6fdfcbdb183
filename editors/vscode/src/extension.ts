// The KFL extension: starts `kflc lsp` as the language server and adds the pipeline graph view.
import * as vscode from 'vscode';
import { LanguageClient, LanguageClientOptions, ServerOptions } from 'vscode-languageclient/node';
import { GraphPanel } from './graphPanel';
import { describe } from './resolve';
import { RunViewers, findRunsRoot, newestRunOf, runPageUrl } from './runViewer';
import { kflcCommand, setExtensionPath } from './server';

let client: LanguageClient | undefined;
let outputChannel: vscode.OutputChannel | undefined;
// Problems already shown in a notification: each is shown once per session (the output channel
// gets every attempt).
const reported = new Set<string>();

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  setExtensionPath(context.extensionPath);
  outputChannel = vscode.window.createOutputChannel('KFL Language Server');
  context.subscriptions.push(outputChannel);
  const viewers = new RunViewers();
  context.subscriptions.push({ dispose: () => viewers.dispose() });

  context.subscriptions.push(
    vscode.commands.registerCommand('kfl.showGraph', async (uri?: vscode.Uri) => {
      const document = uri
        ? await vscode.workspace.openTextDocument(uri)
        : vscode.window.activeTextEditor?.document;
      if (!document || document.languageId !== 'kfl') {
        void vscode.window.showWarningMessage('KFL: open a .kfl file to show its pipeline graph.');
        return;
      }
      if (document.isUntitled) {
        void vscode.window.showWarningMessage('KFL: save the file first; kflc graph reads it from disk.');
        return;
      }
      GraphPanel.show(context, document);
    }),
    vscode.commands.registerCommand('kfl.openRunViewer', async (uri?: vscode.Uri) => {
      await openRunViewer(viewers, uri);
    }),
    vscode.commands.registerCommand('kfl.restartServer', async () => {
      await stopClient();
      await startClient();
    }),
    vscode.workspace.onDidSaveTextDocument((document) => {
      if (document.languageId === 'kfl') GraphPanel.refreshIfOpen(document);
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration('kfl.server')) {
        await stopClient();
        await startClient();
      }
    }),
  );

  await startClient();
}

/**
 * Starts (or reuses) `kflc ui` on the runs folder of the current file's project and opens the page
 * of the file's newest run in the browser (the runs list when it has none yet).
 */
async function openRunViewer(viewers: RunViewers, uri?: vscode.Uri): Promise<void> {
  const document = uri ? await vscode.workspace.openTextDocument(uri) : vscode.window.activeTextEditor?.document;
  const file = document && document.languageId === 'kfl' && !document.isUntitled ? document.uri.fsPath : undefined;
  const folder =
    (document && vscode.workspace.getWorkspaceFolder(document.uri)) ?? vscode.workspace.workspaceFolders?.[0];
  const root =
    (file && findRunsRoot(file, folder?.uri.fsPath)) ?? (folder ? `${folder.uri.fsPath}/.kfl` : undefined);
  if (!root) {
    void vscode.window.showWarningMessage('KFL: open a .kfl file or a folder to see its runs.');
    return;
  }
  const resolved = kflcCommand(document?.uri);
  if (!resolved.command) {
    void vscode.window.showErrorMessage(`KFL: cannot start the run viewer: ${resolved.problem}.`);
    return;
  }
  let base: string;
  try {
    base = await viewers.url(resolved.command, root);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    outputChannel?.appendLine(`KFL: run viewer: ${message}`);
    void vscode.window.showErrorMessage(`KFL: cannot start the run viewer: ${message}`);
    return;
  }
  const page = runPageUrl(base, file ? newestRunOf(root, file) : undefined);
  outputChannel?.appendLine(`KFL: run viewer for ${root}: ${page}`);
  // The system browser: the viewer refuses to be framed (frame-ancestors 'none'), which the Simple
  // Browser would do. asExternalUri forwards the port when VS Code runs remotely.
  const external = await vscode.env.asExternalUri(vscode.Uri.parse(page));
  await vscode.env.openExternal(external);
}

export async function deactivate(): Promise<void> {
  await stopClient();
}

async function startClient(): Promise<void> {
  const resolved = kflcCommand();
  outputChannel?.appendLine(`KFL: ${describe(resolved)}`);
  if (!resolved.command) {
    // No language server; syntax highlighting, snippets and the language configuration are
    // declarative and keep working.
    await reportOnce(`KFL: ${resolved.problem}. Syntax highlighting still works; diagnostics need kflc.`);
    return;
  }
  const command = resolved.command;
  const serverOptions: ServerOptions = {
    command,
    args: ['lsp', ...resolved.extraArgs],
    options: { env: { ...process.env, NO_COLOR: '1' } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'kfl' },
      { scheme: 'untitled', language: 'kfl' },
    ],
    synchronize: {
      // Imported files that change on disk change the diagnostics of the files importing them.
      fileEvents: vscode.workspace.createFileSystemWatcher('**/*.kfl'),
    },
    outputChannel,
  };
  // The id `kfl` makes the client read the `kfl.trace.server` setting.
  const newClient = new LanguageClient('kfl', 'KFL Language Server', serverOptions, clientOptions);
  try {
    await newClient.start();
    client = newClient;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    outputChannel?.appendLine(`KFL: could not start \`${command} lsp\`: ${message}`);
    await reportOnce(`KFL: could not start the language server \`${command} lsp\`: ${message}. Check "kfl.server.path".`);
  }
}

/** Shows an error with a button to the `kfl.server` settings, once per distinct message. */
async function reportOnce(message: string): Promise<void> {
  if (reported.has(message)) return;
  reported.add(message);
  const choice = await vscode.window.showErrorMessage(message, 'Open Settings');
  if (choice === 'Open Settings') {
    await vscode.commands.executeCommand('workbench.action.openSettings', 'kfl.server.path');
  }
}

async function stopClient(): Promise<void> {
  const running = client;
  client = undefined;
  if (running) {
    try {
      await running.stop();
    } catch {
      // The server may already be gone.
    }
  }
}
