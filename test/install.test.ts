/**
 * A clean `npm ci` on the Node this runs on is quiet: every locked package declares an engine range that
 * includes it (no EBADENGINE), and every package with an install script is reviewed in `allowScripts`.
 */
import { readFileSync } from 'node:fs';
import semver from 'semver';
import t from 'tap';

interface LockedPackage {
  version?: string;
  engines?: { node?: string } | string[];
  hasInstallScript?: boolean;
  dev?: boolean;
}

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, LockedPackage> };
const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string }; allowScripts?: Record<string, boolean> };
const nameOf = (path: string) => path.replace(/^.*node_modules\//, '');

t.test(`every locked package supports this Node (${process.version})`, async (t) => {
  const unsupported = Object.entries(lock.packages)
    .filter(([path, locked]) => path !== '' && locked.engines && !Array.isArray(locked.engines) && locked.engines.node)
    .filter(([, locked]) => !semver.satisfies(process.version, (locked.engines as { node: string }).node, { includePrerelease: true }))
    .map(([path, locked]) => `${nameOf(path)}@${locked.version} needs node ${(locked.engines as { node: string }).node}`);
  t.same(unsupported, [], 'npm ci would warn EBADENGINE for these');
  t.ok(semver.satisfies(process.version, manifest.engines.node), `package.json's own engines (${manifest.engines.node}) include it`);
});

t.test('every package with an install script is reviewed in allowScripts', async (t) => {
  const withScripts = [...new Set(Object.entries(lock.packages).filter(([, locked]) => locked.hasInstallScript).map(([path]) => nameOf(path)))];
  const unreviewed = withScripts.filter((name) => manifest.allowScripts?.[name] === undefined);
  t.same(unreviewed, [], 'npm ci would list these as "not yet covered by allowScripts"');
});
