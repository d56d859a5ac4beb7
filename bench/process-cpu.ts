import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** The kernel's clock ticks per second, the unit of /proc/<pid>/stat's CPU times (100 on most Linux systems). */
const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface ProcStat {
  ppid: number;
  /** utime + stime of the process (all its threads). */
  ownTicks: number;
  /** cutime + cstime: of its children that have exited and been waited for. */
  reapedChildrenTicks: number;
}

/** /proc/<pid>/stat, or null once the process is gone (or off Linux). The command name may hold spaces: fields are counted after its ')'. */
function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields 4 (ppid) and 14-17 (utime, stime, cutime, cstime) of proc(5), counted from field 3 (state).
  const field = (number: number) => Number(fields[number - 3]);
  return { ppid: field(4), ownTicks: field(14) + field(15), reapedChildrenTicks: field(16) + field(17) };
}

/** CPU seconds (user + system, every thread) a process has used so far; NaN once it is gone. */
export function cpuSecondsOf(pid: number): number {
  const stat = procStat(pid);
  return stat ? stat.ownTicks / TICKS_PER_SECOND : Number.NaN;
}

/**
 * CPU seconds of a server and its direct children (PostgreSQL's postmaster and its backends): the live children's
 * own time, plus what the children that already exited used (the postmaster waits for them).
 */
export function cpuSecondsOfTree(rootPid: number): number {
  const root = procStat(rootPid);
  if (!root) return Number.NaN;
  let ticks = root.ownTicks + root.reapedChildrenTicks;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat && stat.ppid === rootPid) ticks += stat.ownTicks;
  }
  return ticks / TICKS_PER_SECOND;
}

/**
 * CPU seconds the whole machine has spent busy so far (every core, every tenant: /proc/stat's first line less its
 * idle and iowait), to tell CPU our processes could not get from CPU they did not ask for.
 */
export function machineBusySeconds(): number {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] as string).trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((sum, value) => sum + value, 0);
    return (total - (fields[3] as number) - (fields[4] as number)) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}
