// A real `git http-backend` (git's own smart-HTTP server, a CGI program) behind a tiny CGI shim,
// for serving repositories to real `git clone`. The shim demands HTTP Basic auth and checks the
// password itself, as a forge checks a token.
import { spawn } from 'node:child_process';
import type http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './process.ts';
import { makeTempDir } from './temp-dir.ts';
import { commandPath } from './tools.ts';

/** A bare repository `repo.git` with one commit holding README.md; returns the project root (removed when the test file ends). */
export async function createBareRepo(readme: string): Promise<string> {
  const root = makeTempDir('git');
  const work = join(root, 'work');
  const git = async (args: string[], cwd: string): Promise<void> => {
    const r = await run('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'init.defaultBranch=main', ...args], { cwd, env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: root } });
    if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  };
  await git(['init', '-q', work], root);
  writeFileSync(join(work, 'README.md'), readme);
  await git(['add', 'README.md'], work);
  await git(['commit', '-q', '-m', 'first'], work);
  await git(['clone', '-q', '--bare', work, join(root, 'repo.git')], root);
  return root;
}

/** Serves one request with git http-backend if Basic auth carries `password`; 401 otherwise. */
export function serveGit(projectRoot: string, password: string, req: http.IncomingMessage, res: http.ServerResponse): void {
  const auth = req.headers.authorization ?? '';
  const m = /^Basic\s+(\S+)$/i.exec(auth);
  const decoded = m === null ? '' : Buffer.from(m[1] as string, 'base64').toString('utf8');
  if (decoded.slice(decoded.indexOf(':') + 1) !== password) {
    req.resume();
    res.writeHead(401, { 'www-authenticate': 'Basic realm="git"', 'content-type': 'text/plain' });
    res.end('authentication required\n');
    return;
  }
  const url = new URL(req.url ?? '/', 'https://git');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GIT_PROJECT_ROOT: projectRoot,
    GIT_HTTP_EXPORT_ALL: '1',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.slice(1),
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_USER: decoded.slice(0, decoded.indexOf(':')),
    REMOTE_ADDR: req.socket.remoteAddress ?? '',
    HTTP_GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
    HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
  };
  if (req.headers['content-length'] !== undefined) env.CONTENT_LENGTH = req.headers['content-length'];
  const child = spawn(commandPath('git'), ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  req.pipe(child.stdin);
  let head = Buffer.alloc(0);
  let started = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (started) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    started = true;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'status') status = Number.parseInt(value, 10);
      else headers[name] = value;
    }
    res.writeHead(status, headers);
    res.write(head.subarray(end + 4));
  });
  child.stderr.resume();
  child.on('close', () => {
    if (!started) res.writeHead(500).end('git http-backend failed\n');
    else res.end();
  });
}
