// The devices aggregate: the only writer of `devices` and `device_enrollments` (besides the
// seed's demo laptops). Routes, the auth plugin and the embedded stack call these.
export { deviceTokenFile, ensureDeviceToken } from './embedded.js';
export {
  DEFAULT_ENROLLMENT_SECONDS,
  MAX_ENROLLMENT_SECONDS,
  MIN_ENROLLMENT_SECONDS,
  deviceIdFor,
  enrollDevice,
  issueEnrollment,
  type EnrollInput,
  type EnrolledDevice,
  type IssuedEnrollment,
} from './enrollment.js';
export { DeviceRefusedError, type DeviceRefusal } from './errors.js';
export {
  DEVICE_STATES,
  findDeviceByToken,
  getDevice,
  isEnrolled,
  listDevices,
  recordDeviceSeen,
  unenrollDevice,
  type DeviceRecord,
  type DeviceState,
} from './registry.js';
export { hashDeviceToken } from './tokens.js';
