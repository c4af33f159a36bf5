/**
 * How busy the machine was with work that is not ours: CPU time of the whole machine (/proc/stat)
 * minus the CPU time of this process tree (the bench, the servers, wrk/ab, nginx; exited children
 * are counted through cutime/cstime). Reported as the average number of cores taken by others.
 */
import { readFileSync, readdirSync } from 'node:fs';

function machineBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // user … steal (guest is inside user)
  return total - f[3]! - f[4]!; // minus idle and iowait
}

function procTicks(pid: number, withChildren: boolean, systemOnly = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
    const own = (systemOnly ? 0 : Number(f[11])) + Number(f[12]);
    return withChildren ? own + (systemOnly ? 0 : Number(f[13])) + Number(f[14]) : own;
  } catch {
    return 0;
  }
}

function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      for (const k of kids ? kids.split(/\s+/) : []) out.push(Number(k));
    }
  } catch {
    /* gone */
  }
  return out;
}

/** CPU ticks of a process and all its descendants, live ones and those already reaped (only system time with `systemOnly`). */
export function treeTicks(pid: number, systemOnly = false): number {
  return procTicks(pid, true, systemOnly) + children(pid).reduce((n, c) => n + treeTicks(c, systemOnly), 0);
}

export interface NoiseMark {
  at: number;
  machine: number;
  ours: number;
}

export function mark(): NoiseMark {
  return { at: performance.now(), machine: machineBusyTicks(), ours: treeTicks(process.pid) };
}

/** Average cores used by other processes between two marks (USER_HZ = 100 on Linux). */
export function foreignCores(a: NoiseMark, b: NoiseMark): number {
  const seconds = (b.at - a.at) / 1000;
  if (seconds <= 0) return 0;
  return Math.max(0, (b.machine - a.machine - (b.ours - a.ours)) / 100 / seconds);
}

/** Average cores used by this process tree between two marks. */
export function ourCores(a: NoiseMark, b: NoiseMark): number {
  const seconds = (b.at - a.at) / 1000;
  return seconds <= 0 ? 0 : (b.ours - a.ours) / 100 / seconds;
}
