import http, { type OutgoingHttpHeader, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';

/** A header every answer carries: its name, the name in lower case, its value. */
export type CommonHeader = readonly [name: string, lower: string, value: string | readonly string[]];

export function commonHeader(name: string, value: string | readonly string[]): CommonHeader {
  return [name, name.toLowerCase(), value];
}

/**
 * Gives a response the headers every answer carries (API version, request id, http.headers).
 * On Berth's HTTP/1 responses they are written together with the answer's own headers;
 * elsewhere (HTTP/2) they are set one by one.
 */
export function setCommonHeaders(res: ServerResponse, headers: readonly CommonHeader[]): void {
  if (res instanceof RegistryResponse) res.common = headers;
  else for (const [name, , value] of headers) res.setHeader(name, value);
}

/**
 * The response of Berth's HTTP/1 servers. Node writes a response's headers from one list when
 * the answer gives them all to writeHead; a header set earlier with setHeader makes it merge every
 * header one by one instead. So the common headers wait here and join the answer's own in one
 * list when it is written (a manifest GET took about 7% more CPU with them set first:
 * docs/performance.md). An answer's own header of the same name replaces a common one, as it did
 * with setHeader; a header set one by one brings the common ones in first, for the same reason.
 */
export class RegistryResponse<Request extends http.IncomingMessage = http.IncomingMessage> extends http.ServerResponse<Request> {
  common: readonly CommonHeader[] | undefined = undefined;

  override setHeader(name: string, value: number | string | readonly string[]): this {
    this.setCommon();
    return super.setHeader(name, value);
  }

  override appendHeader(name: string, value: string | readonly string[]): this {
    this.setCommon();
    return super.appendHeader(name, value);
  }

  override writeHead(statusCode: number, reason?: string | OutgoingHttpHeaders | OutgoingHttpHeader[], headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this {
    const common = this.common;
    if (common === undefined) return typeof reason === 'string' ? super.writeHead(statusCode, reason, headers) : super.writeHead(statusCode, reason);
    this.common = undefined;
    const own = typeof reason === 'string' ? headers : reason;
    const all: OutgoingHttpHeader[] = [];
    for (const [name, lower, value] of common) {
      if (!names(own, lower)) all.push(name, value as OutgoingHttpHeader);
    }
    if (Array.isArray(own)) all.push(...own);
    else if (own) for (const name in own) all.push(name, own[name] as OutgoingHttpHeader);
    return typeof reason === 'string' ? super.writeHead(statusCode, reason, all) : super.writeHead(statusCode, all);
  }

  private setCommon(): void {
    const common = this.common;
    if (common === undefined) return;
    this.common = undefined;
    for (const [name, , value] of common) super.setHeader(name, value);
  }
}

/** Whether `headers` (writeHead's object, or its list of names and values) names `lower`. */
function names(headers: OutgoingHttpHeaders | OutgoingHttpHeader[] | undefined, lower: string): boolean {
  if (headers === undefined) return false;
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) if (sameName(headers[i], lower)) return true;
    return false;
  }
  for (const name in headers) if (sameName(name, lower)) return true;
  return false;
}

function sameName(name: unknown, lower: string): boolean {
  return typeof name === 'string' && name.length === lower.length && name.toLowerCase() === lower;
}
