import type { IncomingMessage } from 'node:http';
import { RegistryError } from '../../oci/errors.js';
import { berthVersion } from '../../version.js';
import { type Context, sendJson } from '../context.js';
import type { Session } from './shapes.js';
import type { UiState } from './state.js';

const VERSION = berthVersion();

/**
 * GET /v2/_berth/session: who the caller is and what the registry allows, for the UI to decide
 * between a login form and the pages. Never a 401: a caller the access controller does not let
 * in is `user: null` (with the token server to ask, for a token controller).
 */
export async function session(ctx: Context, ui: UiState): Promise<void> {
  const { config, auth } = ui;
  let user: string | null = null;
  let authenticated = auth === undefined;
  let token: { realm: string; service: string } | null = null;
  if (auth) {
    try {
      user = (await auth.controller.authorize(ctx.req, [])).user ?? null;
      authenticated = true;
    } catch (err) {
      if (!(err instanceof RegistryError) || err.code !== 'UNAUTHORIZED') throw err;
      token = bearerParams(err.headers['WWW-Authenticate']);
    }
    if (auth.controller.kind === 'token' && !token) token = bearerParams(await challengeOf(ctx.req, ui));
  }
  const body: Session = {
    title: config.ui?.title ?? 'Berth',
    version: VERSION,
    auth: auth ? auth.controller.kind : null,
    authenticated,
    user,
    token,
    deleteEnabled: config.storage.delete.enabled,
    readOnly: config.storage.maintenance.readonly.enabled,
  };
  sendJson(ctx, 200, body, { 'Cache-Control': 'no-store' });
}

/** The challenge an anonymous request gets (for the token server's realm and service). */
async function challengeOf(req: IncomingMessage, ui: UiState): Promise<string | undefined> {
  const anonymous = Object.create(req, { headers: { value: { ...req.headers, authorization: undefined } } }) as IncomingMessage;
  try {
    await ui.auth!.controller.authorize(anonymous, []);
  } catch (err) {
    if (err instanceof RegistryError) return err.headers['WWW-Authenticate'];
  }
  return undefined;
}

function bearerParams(challenge: string | undefined): { realm: string; service: string } | null {
  if (!challenge?.startsWith('Bearer ')) return null;
  const realm = /realm="((?:[^"\\]|\\.)*)"/.exec(challenge)?.[1];
  const service = /service="((?:[^"\\]|\\.)*)"/.exec(challenge)?.[1];
  return realm ? { realm: realm.replace(/\\(.)/g, '$1'), service: (service ?? '').replace(/\\(.)/g, '$1') } : null;
}

/**
 * A request from the UI (header `X-Berth-UI`) gets its challenge in `X-Berth-Authenticate`
 * instead of `WWW-Authenticate`: a browser seeing a Basic challenge on a script's request opens
 * its own login dialog, and the UI has its own form. Everything else is answered as it is.
 */
export function withoutBrowserPrompt(req: IncomingMessage, err: unknown): unknown {
  if (req.headers['x-berth-ui'] === undefined || !(err instanceof RegistryError)) return err;
  const { 'WWW-Authenticate': challenge, ...rest } = err.headers;
  if (challenge === undefined) return err;
  return new RegistryError(err.code, err.message, err.detail, { status: err.status, headers: { ...rest, 'X-Berth-Authenticate': challenge }, cause: err.cause });
}
