/**
 * How every AWS client dbusers makes retries: the SDK's own adaptive mode (backoff with jitter, and a
 * client-side rate limiter that slows down when throttled), a bounded number of attempts in all.
 * Nothing retries on top of it, so a throttled call is tried at most MAX_ATTEMPTS times.
 */
export const MAX_ATTEMPTS = 6;

/** Client settings for the SDK's retries; spread into every client's configuration. */
export const RETRY_CONFIG = { retryMode: 'adaptive', maxAttempts: MAX_ATTEMPTS } as const;
