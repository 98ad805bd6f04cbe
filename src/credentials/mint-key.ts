// The root key that signs minted tokens: 32 random bytes, base64 on one line, in ca_dir/mint.key
// (0600), next to the CA key and as private. Deleting it revokes every token minted with it.
// `sluice mint` creates it; sluice itself reads it at start and on every reload.

import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const MINT_KEY_FILE = 'mint.key';
const KEY_BYTES = 32;

export function mintKeyPath(caDir: string): string {
  return join(caDir, MINT_KEY_FILE);
}

/** The root key, or undefined if the file does not exist. Throws (without the key) if it is unusable. */
export function readMintKey(caDir: string): Buffer | undefined {
  const path = mintKeyPath(caDir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new Error(`cannot read the mint key ${path} (${code ?? String(err)}); make it readable by the user sluice runs as`);
  }
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== KEY_BYTES || !/^[A-Za-z0-9+/]+=*$/.test(text.trim())) {
    throw new Error(`the mint key ${path} is not ${KEY_BYTES} bytes of base64; delete it to make a new one (this revokes every minted token)`);
  }
  return key;
}

/** Reads the root key, creating it (0600) if it does not exist yet. Safe against a concurrent creator. */
export function loadOrCreateMintKey(caDir: string): { key: Buffer; created: boolean } {
  const existing = readMintKey(caDir);
  if (existing !== undefined) return { key: existing, created: false };
  mkdirSync(caDir, { recursive: true, mode: 0o755 });
  const path = mintKeyPath(caDir);
  // Written whole under a temporary name, then linked into place: a reader never sees half a
  // key, and if another process got there first its key wins (EEXIST).
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temp, `${randomBytes(KEY_BYTES).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  let created = true;
  try {
    linkSync(temp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    created = false;
  } finally {
    unlinkSync(temp);
  }
  const key = readMintKey(caDir);
  if (key === undefined) throw new Error(`the mint key ${path} vanished while it was being created`);
  return { key, created };
}
