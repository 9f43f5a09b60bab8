/**
 * The inspect answer on the wire between the executor Lambda and the reconciler. A synchronous Lambda
 * response holds at most 6 MB and an inspected account is ~850 bytes of JSON, so a cluster of 7,000
 * accounts would not fit: past PACK_ABOVE bytes the JSON travels gzipped, in base64 (about a tenth).
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { ActualState } from '../../model/types.js';

/** JSON larger than this is sent gzipped. */
export const PACK_ABOVE = 256 * 1024;

/** What the executor returns for an inspect: the state itself, or it gzipped. */
export type InspectPayload = ActualState | { encoding: 'gzip+base64'; data: string };

/** The executor's side: the state, gzipped when large. */
export function packInspect(state: ActualState): InspectPayload {
  const json = JSON.stringify(state);
  if (json.length <= PACK_ABOVE) return state;
  return { encoding: 'gzip+base64', data: gzipSync(json).toString('base64') };
}

/** The reconciler's side: the state, from either form. */
export function unpackInspect(payload: InspectPayload): ActualState {
  if ('encoding' in payload && payload.encoding === 'gzip+base64')
    return JSON.parse(gunzipSync(Buffer.from(payload.data, 'base64')).toString('utf8')) as ActualState;
  return payload as ActualState;
}
