import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export interface BrokenLink {
  file: string;
  line: number;
  target: string;
}

// Inline links and images: [text](target) or ![alt](target "title").
const LINK = /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
const SKIP_DIRS = new Set(['node_modules', 'dist', 'build', '.git', '.nx', '.cache', 'out']);

/** Relative link targets of a markdown text with their 1-based lines; fenced code is not prose and is skipped. */
export function relativeLinks(markdown: string): { line: number; target: string }[] {
  const found: { line: number; target: string }[] = [];
  let inFence = false;
  for (const [i, text] of markdown.split('\n').entries()) {
    if (/^\s*(```|~~~)/.test(text)) inFence = !inFence;
    if (inFence) continue;
    for (const m of text.matchAll(LINK)) {
      const target = m[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
      found.push({ line: i + 1, target });
    }
  }
  return found;
}

export function markdownFiles(root: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(root)) {
    if (SKIP_DIRS.has(entry)) continue;
    const path = join(root, entry);
    if (statSync(path).isDirectory()) out.push(...markdownFiles(path));
    else if (entry.endsWith('.md')) out.push(path);
  }
  return out.sort();
}

/** Every relative link under root whose file or folder does not exist, paths reported relative to root. */
export function brokenLinks(root: string): BrokenLink[] {
  const broken: BrokenLink[] = [];
  for (const file of markdownFiles(root)) {
    for (const { line, target } of relativeLinks(readFileSync(file, 'utf8'))) {
      const path = decodeURIComponent(target.split('#')[0]);
      if (!existsSync(resolve(dirname(file), path))) broken.push({ file: relative(root, file), line, target });
    }
  }
  return broken;
}
