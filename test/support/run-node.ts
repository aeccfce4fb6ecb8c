import { spawn } from 'node:child_process';

/** What a finished command printed and how it exited. */
export interface NodeRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run a Node script (the CLI, the Inspector launcher) to completion with this process's Node, and
 * collect its output: the end-to-end tests drive real command-line clients this way.
 */
export function runNode(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<NodeRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
