/** The statuses that end an automation execution: polling stops, and status-change events are collected. */
export const AUTOMATION_ENDED = [
  'Success',
  'Failed',
  'TimedOut',
  'Cancelled',
  'CompletedWithSuccess',
  'CompletedWithFailure',
  'Rejected',
  'Exited',
] as const;
