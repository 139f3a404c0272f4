/**
 * The API refused the device token (unenrolled, or a token of another device). Restarting
 * cannot help, so a supervisor must not retry it: 77 is sysexits' EX_NOPERM.
 */
export const DEVICE_TOKEN_REFUSED = 77;
