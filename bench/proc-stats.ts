// What Linux's /proc says of a process, or of a process and its descendants
// (a gateway's workers), for the benches that measure one.
import { readFileSync } from 'node:fs';

/** User and system CPU time a process has used so far, in ms. */
export function userSystemMsOf(pid: number | undefined): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const msPerTick = 1000 / 100; // clock ticks at USER_HZ = 100
  return { user: Number(fields[11]) * msPerTick, system: Number(fields[12]) * msPerTick };
}

/** CPU time (user + system) a process has used so far, in ms. */
export function cpuMsOf(pid: number | undefined): number {
  const { user, system } = userSystemMsOf(pid);
  return user + system;
}

/** Resident set size of a process in KB. */
export function rssKbOf(pid: number | undefined): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? Number.NaN);
}

/** The pid and every descendant's. */
function processTree(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    children = [];
  }
  return [pid, ...children.flatMap(processTree)];
}

/** `of` summed over a process and its descendants; one that exits meanwhile counts 0. */
function treeSum(pid: number, of: (pid: number) => number): number {
  return processTree(pid).reduce((sum, p) => {
    try {
      return sum + of(p);
    } catch {
      return sum;
    }
  }, 0);
}

/** CPU ms of a process and its descendants. */
export const treeCpuMsOf = (pid: number) => treeSum(pid, cpuMsOf);

/** Resident KB of a process and its descendants. */
export const treeRssKbOf = (pid: number) => treeSum(pid, rssKbOf);
