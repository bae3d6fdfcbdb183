// Where kflc is and how to run it, from the `kfl.server.*` settings.
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';

export interface KflcCommand {
  /** The executable: `kfl.server.path`, with `~` and `${workspaceFolder}` expanded. */
  command: string;
  /** `kfl.server.extraArgs`. */
  extraArgs: string[];
}

export function kflcCommand(resource?: vscode.Uri): KflcCommand {
  const config = vscode.workspace.getConfiguration('kfl', resource);
  const folder =
    (resource && vscode.workspace.getWorkspaceFolder(resource)) ?? vscode.workspace.workspaceFolders?.[0];
  let command = (config.get<string>('server.path') || 'kflc').trim();
  if (folder) command = command.replace(/\$\{workspaceFolder\}/g, folder.uri.fsPath);
  if (command === '~' || command.startsWith('~/')) command = path.join(os.homedir(), command.slice(1));
  // A relative path with a directory part is relative to the workspace folder; a bare name is
  // looked up on PATH.
  if (!path.isAbsolute(command) && /[\\/]/.test(command) && folder) command = path.join(folder.uri.fsPath, command);
  const extraArgs = (config.get<string[]>('server.extraArgs') || []).filter((a) => typeof a === 'string');
  return { command, extraArgs };
}
