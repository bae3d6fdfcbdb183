// "KFL: Open run viewer": starts `kflc ui` on the runs of the current file's project (once per
// runs folder, kept while VS Code runs) and opens the page of the file's newest run in the
// browser. Plain Node (no `vscode` import), so that test/run-viewer.test.js runs it as it is.
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** At most this many run folders are looked at for the newest run of a file. */
const RUNS_LOOKED_AT = 2000;
/** A run.json larger than this is not read (a damaged or hostile record). */
const RECORD_CAP = 16 * 1024 * 1024;

/**
 * The `.kfl` folder whose `runs` hold this file's runs: the nearest one from the file's folder up
 * to `stopAt` (the workspace folder), as `kflc run` makes `.kfl` in the folder it runs in.
 */
export function findRunsRoot(file: string, stopAt?: string): string | undefined {
  let dir = path.dirname(path.resolve(file));
  const stop = stopAt ? path.resolve(stopAt) : undefined;
  for (;;) {
    const candidate = path.join(dir, '.kfl');
    if (isDirectory(path.join(candidate, 'runs'))) return candidate;
    const parent = path.dirname(dir);
    if (dir === stop || parent === dir) return undefined;
    dir = parent;
  }
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The id of the newest run of `file` under `root/runs` (ids start with their UTC start time), or
 * undefined. A relative `file` in a record is taken from the folder holding `root`, where
 * `kflc run` ran; unreadable, oversized or damaged records are passed over.
 */
export function newestRunOf(root: string, file: string): string | undefined {
  const runs = path.join(root, 'runs');
  let ids: string[];
  try {
    ids = fs.readdirSync(runs).filter((name) => !name.startsWith('.') && name !== 'latest');
  } catch {
    return undefined;
  }
  const wanted = path.resolve(file);
  const base = path.dirname(path.resolve(root));
  for (const id of ids.sort().reverse().slice(0, RUNS_LOOKED_AT)) {
    const record = path.join(runs, id, 'run.json');
    try {
      if (fs.statSync(record).size > RECORD_CAP) continue;
      const recorded = JSON.parse(fs.readFileSync(record, 'utf8')).file;
      if (typeof recorded === 'string' && path.resolve(base, recorded) === wanted) return id;
    } catch {
      continue;
    }
  }
  return undefined;
}

/** The address in `kflc ui`'s first line (`kflc ui: serving http://127.0.0.1:PORT/ …`). */
export function servingUrl(line: string): string | undefined {
  const match = /^kflc ui: serving (http:\/\/[^\s]+)/.exec(line);
  return match ? match[1] : undefined;
}

/** The page of a run (`#/run/ID`), or the runs list. */
export function runPageUrl(base: string, runId?: string): string {
  return runId ? `${base}#/run/${encodeURIComponent(runId)}` : base;
}

interface Server {
  process: ChildProcess;
  url: Promise<string>;
}

/** The `kflc ui` servers this window started, one per runs folder. */
export class RunViewers {
  private readonly servers = new Map<string, Server>();

  constructor(private readonly timeoutMs = 20_000) {}

  /** The address of a `kflc ui` serving `root`, started now or earlier (and still running). */
  url(command: string, root: string): Promise<string> {
    const key = path.resolve(root);
    const running = this.servers.get(key);
    if (running && running.process.exitCode === null && running.process.signalCode === null) return running.url;
    const child = spawn(command, ['ui', '--root', key, '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    const url = new Promise<string>((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error(`\`${command} ui\` did not start within ${this.timeoutMs / 1000} s`));
      }, this.timeoutMs);
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const found = out.split('\n').map(servingUrl).find((u) => u);
        if (found) {
          clearTimeout(timer);
          resolve(found);
        }
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        err = (err + chunk.toString()).slice(-4000);
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`cannot run \`${command}\`: ${e.message}`));
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        this.servers.delete(key);
        reject(new Error(`\`${command} ui\` stopped (exit ${code}): ${err.trim() || out.trim()}`));
      });
    });
    this.servers.set(key, { process: child, url });
    return url;
  }

  /** Stops every server this window started. */
  dispose(): void {
    for (const server of this.servers.values()) server.process.kill();
    this.servers.clear();
  }
}
