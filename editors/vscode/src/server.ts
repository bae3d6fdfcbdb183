// Where kflc is and how to run it, from the `kfl.server.*` settings (see resolve.ts for the order).
import * as vscode from 'vscode';
import { KflcResolution, resolveKflc } from './resolve';

let extensionPath = '';

/** Called once from `activate`: the bundled server lives in the extension's folder. */
export function setExtensionPath(p: string): void {
  extensionPath = p;
}

export interface KflcCommand extends KflcResolution {
  /** `kfl.server.extraArgs`. */
  extraArgs: string[];
}

export function kflcCommand(resource?: vscode.Uri): KflcCommand {
  const config = vscode.workspace.getConfiguration('kfl', resource);
  const folder =
    (resource && vscode.workspace.getWorkspaceFolder(resource)) ?? vscode.workspace.workspaceFolders?.[0];
  const resolution = resolveKflc({
    setting: config.get<string>('server.path') || '',
    extensionPath,
    workspaceFolder: folder?.uri.fsPath,
  });
  const extraArgs = (config.get<string[]>('server.extraArgs') || []).filter((a) => typeof a === 'string');
  return { ...resolution, extraArgs };
}
