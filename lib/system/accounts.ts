/** User and group names for the ids `dmabuf doctor` and `dmabuf ls` print (from /etc/passwd and /etc/group). */
import { readFileSync } from 'node:fs';

function table(path: string): Map<number, string> {
  const names = new Map<number, string>();
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return names;
  }
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    if (name && id !== undefined && /^\d+$/.test(id)) names.set(Number(id), name);
  }
  return names;
}

let users: Map<number, string> | undefined;
let groups: Map<number, string> | undefined;

/** The user's name, or its number as text where /etc/passwd does not name it (containers, NSS-only users). */
export function userName(uid: number): string {
  users ??= table('/etc/passwd');
  return users.get(uid) ?? String(uid);
}

export function groupName(gid: number): string {
  groups ??= table('/etc/group');
  return groups.get(gid) ?? String(gid);
}
