// The log lines of the delivery scheduler that tell a URL's health changes, and the fields of one
// delivery. Fields keep one type across lines: `url` is always the redacted URL, `pendingForUrl` a number.

import type { ErrorCode, WarningCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Delivery } from '../outbox/state-store.js';
import { safeUrl } from '../safe-url.js';
import type { HealthAction } from './url-health.js';

/** Log fields of one delivery (built only when a line is written: safeUrl parses the URL). */
export function deliveryFields(url: string, d: Delivery): Record<string, unknown> {
  return { deliveryId: d.id, eventId: d.eventId, event: d.eventName, url: safeUrl(url), attempt: d.attempts };
}

/** Logs a health change of `url`; `d`: the delivery that got the 410 of a `paused` action. */
export function logHealthAction(
  logger: Logger,
  action: HealthAction,
  url: string,
  pendingForUrl: number,
  d: Delivery | undefined,
): void {
  switch (action.kind) {
    case 'failing': {
      const fields = {
        url: safeUrl(url),
        code: 'UCW_WARN_DELIVERY_URL_FAILING' satisfies WarningCode,
        failuresInARow: action.failuresInARow,
        waitMs: action.waitMs,
        pendingForUrl,
      };
      // Once per outage at warn; the longer waits that follow failed probes only at debug.
      if (action.firstOfOutage)
        logger.warn(
          fields,
          'receiver keeps failing: URL marked failing, probed with one delivery at a time; events kept',
        );
      else logger.debug(fields, 'probe failed; the failing URL waits longer before the next probe');
      return;
    }
    case 'paused':
      logger.error(
        {
          ...(d ? deliveryFields(url, d) : { url: safeUrl(url) }),
          status: 410,
          code: 'UCW_ERR_DELIVERY_GONE' satisfies ErrorCode,
          pausedForMs: action.pauseMs,
          pausedUntil: new Date(action.untilMs).toISOString(),
          pendingForUrl,
        },
        `receiver answered 410 Gone; URL paused for ${formatSeconds(action.pauseMs)} s; events kept`,
      );
      return;
    case 'probe':
      if (action.mode === 'paused')
        logger.info({ url: safeUrl(url), pendingForUrl }, '410 Gone pause over; probing the URL with one delivery');
      else
        logger.debug({ url: safeUrl(url), pendingForUrl }, 'failing URL wait over; probing the URL with one delivery');
      return;
    case 'resumed':
      if (action.from === 'paused')
        logger.info({ url: safeUrl(url), pendingForUrl, reason: action.why }, 'URL resumed after 410 Gone pause');
      else
        logger.info(
          { url: safeUrl(url), pendingForUrl, reason: action.why },
          'failing URL answered again; delivery resumed',
        );
  }
}

/** Seconds for a log message: whole seconds as such, shorter pauses (tests) with up to 3 decimals. */
function formatSeconds(ms: number): string {
  return String(Math.round(ms) / 1000);
}
