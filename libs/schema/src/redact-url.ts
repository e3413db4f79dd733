// Credentials inside URLs (http://user:pass@host) never reach a log line or an error message: the userinfo becomes ***.

const MASK = '***';

// scheme:// then the authority up to its last '@', as URL parsers split it; whitespace, quotes, brackets and backslashes end a URL in text.
const USERINFO_IN_TEXT = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#"'<>\\`]*@/gi;

/** `url` with its userinfo replaced by `***` (`http://***@host/`); a value that does not parse loses everything before its last '@'. */
export function redactUrl(url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  // `user:pass@host` parses too, as scheme `user:` with no host: treated as the value that does not parse it is.
  if (!parsed || parsed.host === '') return maskBeforeLastAt(url);
  if (parsed.username === '' && parsed.password === '') return url;
  parsed.username = MASK;
  parsed.password = '';
  return parsed.toString();
}

function maskBeforeLastAt(value: string): string {
  const at = value.lastIndexOf('@');
  if (at < 0) return value;
  const scheme = value.indexOf('://');
  const from = scheme >= 0 && scheme < at ? scheme + 3 : 0;
  return `${value.slice(0, from)}${MASK}${value.slice(at)}`;
}

/** `text` (an error message, a log line) with the userinfo of every `scheme://user:pass@host` in it replaced by `***`. */
export function redactUrls(text: string): string {
  return text.replace(USERINFO_IN_TEXT, `$1${MASK}@`);
}
