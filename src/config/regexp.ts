/**
 * Compiles a regular expression written for Go's regexp package (as in
 * validation.manifests.urls.allow/deny) into a JavaScript RegExp. The common syntax is shared;
 * this translates the few Go-only spellings seen in registry configurations: a leading flag group
 * such as `(?i)` or `(?s)`, and the `\A` / `\z` anchors. Throws SyntaxError when it does not compile.
 */
export function compileGoRegExp(pattern: string): RegExp {
  let source = pattern;
  let flags = '';
  const leading = /^\(\?([imsU]+)\)/.exec(source);
  if (leading) {
    const goFlags = leading[1] ?? '';
    if (goFlags.includes('U')) throw new SyntaxError('the ungreedy flag (?U) is not supported');
    flags = [...new Set(goFlags)].join('');
    source = source.slice(leading[0].length);
  }
  source = source.replace(/(^|[^\\])((?:\\\\)*)\\A/g, '$1$2^').replace(/(^|[^\\])((?:\\\\)*)\\z/g, '$1$2(?![\\s\\S])');
  return new RegExp(source, flags);
}
