/** The programs under test/fixtures/ that tests start as children or workers. */

/** The absolute path of test/fixtures/<name>. */
export function fixturePath(name: string): string {
  return new URL(`../fixtures/${name}`, import.meta.url).pathname;
}
