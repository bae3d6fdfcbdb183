// Which kflc the extension runs, decided without the `vscode` module so that it can be tested in
// plain Node (test/resolve.test.js). In order:
//   1. the `kfl.server.path` setting, when set: a path (with a directory part) must be an executable
//      file, and a bare name is looked up on PATH;
//   2. the kflc bundled in a platform-specific .vsix (`server/kflc`, `server/kflc.exe` on Windows);
//   3. `kflc` on PATH.
// A setting that names no executable is a problem to report, not a reason to fall back: the user
// asked for that binary.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export type KflcSource = 'setting' | 'bundled' | 'PATH';

export interface KflcResolution {
  /** The executable to run, when one was found. */
  command?: string;
  /** Where it came from. */
  source?: KflcSource;
  /** Why no executable could be used, said so that the user knows what to change. */
  problem?: string;
}

export interface ResolveInput {
  /** `kfl.server.path` as written (may be empty). */
  setting: string;
  /** The extension's folder (`context.extensionPath`). */
  extensionPath: string;
  /** The workspace folder for `${workspaceFolder}` and relative paths. */
  workspaceFolder?: string;
  /** `process.env.PATH`, `process.platform` and `process.env.PATHEXT` (injectable for tests). */
  envPath?: string;
  platform?: NodeJS.Platform;
  pathExt?: string;
}

export const SETTING = 'kfl.server.path';

/** `server/kflc` (or `kflc.exe`) inside the extension folder. */
export function bundledKflc(extensionPath: string, platform: NodeJS.Platform = process.platform): string {
  return path.join(extensionPath, 'server', platform === 'win32' ? 'kflc.exe' : 'kflc');
}

function isExecutableFile(file: string, platform: NodeJS.Platform): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false;
    // Windows has no execute bit.
    if (platform !== 'win32') fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function lookUpOnPath(name: string, input: ResolveInput, platform: NodeJS.Platform): string | undefined {
  const dirs = (input.envPath ?? process.env.PATH ?? '').split(path.delimiter).filter((d) => d !== '');
  const exts =
    platform === 'win32' ? ['', ...(input.pathExt ?? process.env.PATHEXT ?? '.EXE').split(';').filter((e) => e)] : [''];
  for (const dir of dirs) {
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext);
      if (isExecutableFile(candidate, platform)) return candidate;
    }
  }
  return undefined;
}

/** Expands `~` and `${workspaceFolder}`; a relative path with a directory part is relative to the workspace. */
export function expandSetting(setting: string, workspaceFolder?: string): string {
  let command = setting.trim();
  if (workspaceFolder) command = command.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
  if (command === '~' || command.startsWith('~/')) command = path.join(os.homedir(), command.slice(1));
  if (!path.isAbsolute(command) && /[\\/]/.test(command) && workspaceFolder) {
    command = path.join(workspaceFolder, command);
  }
  return command;
}

export function resolveKflc(input: ResolveInput): KflcResolution {
  const platform = input.platform ?? process.platform;
  const setting = input.setting.trim();
  if (setting !== '') {
    const command = expandSetting(setting, input.workspaceFolder);
    if (/[\\/]/.test(command)) {
      if (!fs.existsSync(command)) {
        return { problem: `"${SETTING}" is set to ${command}, which does not exist` };
      }
      if (!isExecutableFile(command, platform)) {
        return { problem: `"${SETTING}" is set to ${command}, which is not an executable file` };
      }
      return { command, source: 'setting' };
    }
    const found = lookUpOnPath(command, input, platform);
    if (!found) return { problem: `"${SETTING}" is set to ${command}, which is not on PATH` };
    return { command: found, source: 'setting' };
  }
  const bundled = bundledKflc(input.extensionPath, platform);
  if (isExecutableFile(bundled, platform)) return { command: bundled, source: 'bundled' };
  const onPath = lookUpOnPath('kflc', input, platform);
  if (onPath) return { command: onPath, source: 'PATH' };
  return {
    problem:
      'kflc was not found: this extension has no bundled server for this platform and kflc is not on PATH; ' +
      `install it (pip install kflc) or set "${SETTING}"`,
  };
}

/** One line for the output channel. */
export function describe(resolution: KflcResolution): string {
  switch (resolution.source) {
    case 'setting':
      return `using kflc from the "${SETTING}" setting: ${resolution.command}`;
    case 'bundled':
      return `using the kflc bundled with the extension: ${resolution.command}`;
    case 'PATH':
      return `using kflc found on PATH: ${resolution.command}`;
    default:
      return `no kflc to run: ${resolution.problem}`;
  }
}
