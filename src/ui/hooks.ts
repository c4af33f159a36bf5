import { useEffect, useRef, useState } from 'preact/hooks';
import { replaceParams } from './router.js';

/** A filter's text, written into the route (without a history entry per keystroke) once typing pauses. */
export function useDebouncedParam(value: string, toHref: (text: string) => string, ms = 250): [string, (v: string) => void] {
  const [text, setText] = useState(value);
  // Follow the route only when it changes (back, a link): on mount this effect runs after the first paint,
  // and setting the text then would wipe what someone typed in the meantime.
  const shown = useRef(value);
  useEffect(() => {
    if (shown.current === value) return;
    shown.current = value;
    setText(value);
  }, [value]);
  useEffect(() => {
    if (text === value) return;
    const timer = setTimeout(() => replaceParams(toHref(text)), ms);
    return () => clearTimeout(timer);
  }, [text]);
  return [text, setText];
}

export function pageOf(params: URLSearchParams): number {
  const p = Number(params.get('page') ?? '0');
  return Number.isInteger(p) && p > 0 ? p : 0;
}
