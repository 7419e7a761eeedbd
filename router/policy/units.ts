/*
 * Sizes and rates as operators write them. Sizes are binary, as ulimit,
 * cgroups and container runtimes read "4G"; rates in bits are decimal, as
 * link speeds are quoted ("10Gbit" is 10^10 bit/s), and rates in bytes
 * follow the size rule ("100M/s", "100MiB/s").
 */

const SIZE_MULT: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
const BIT_MULT: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 };

/** `4G`, `512MiB`, `4096`, `1.5T` to bytes (a safe integer); undefined if the text is not a size. */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]) * SIZE_MULT[m[2]!.toLowerCase()]!;
  return Number.isSafeInteger(Math.round(n)) ? Math.round(n) : undefined;
}

/** `10Gbit`, `10Gbit/s`, `100M/s`, `12500000` (bytes/s) to bytes per second; undefined if not a rate. */
export function parseRate(text: string): number | undefined {
  const bits = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:bit|bps)(?:\/s)?\s*$/i.exec(text);
  if (bits) {
    const n = (Number(bits[1]) * BIT_MULT[bits[2]!.toLowerCase()]!) / 8;
    return Number.isSafeInteger(Math.round(n)) ? Math.round(n) : undefined;
  }
  const bytes = /^\s*(.+?)(?:\/s)?\s*$/.exec(text);
  return bytes ? parseSize(bytes[1]!) : undefined;
}

/** Bytes per second as operators read link speeds: `10 Gbit/s`, `400 Mbit/s`. */
export function formatRate(bytesPerS: number): string {
  const bits = bytesPerS * 8;
  for (const [unit, mult] of [['Tbit/s', 1e12], ['Gbit/s', 1e9], ['Mbit/s', 1e6], ['kbit/s', 1e3]] as const) {
    if (bits >= mult) return `${+(bits / mult).toFixed(3)} ${unit}`;
  }
  return `${bits} bit/s`;
}

/** Bytes as `4 GiB`, `512 MiB`, exact values below 1 KiB. */
export function formatSize(bytes: number): string {
  for (const [unit, mult] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= mult) return `${+(bytes / mult).toFixed(2)} ${unit}`;
  }
  return `${bytes} B`;
}
