export type DeviceRefusal =
  /** issueEnrollment: the owner is not an active user. */
  | 'owner_unknown'
  /** enrollDevice: no enrollment has this token. */
  | 'token_unknown'
  /** enrollDevice: the token was spent already (single use). */
  | 'token_used'
  | 'token_expired'
  /** enrollDevice: the owner was deactivated after the token was issued. */
  | 'owner_inactive';

/** A business rule of the devices aggregate said no; the API maps `reason` to a status code. */
export class DeviceRefusedError extends Error {
  constructor(
    readonly reason: DeviceRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'DeviceRefusedError';
  }
}
