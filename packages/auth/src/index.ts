export {
  accountExistsNotice,
  changeEmail,
  changePassword,
  issueEmailToken,
  issuePasswordReset,
  type LoggedIn,
  logIn,
  logOut,
  RESET_PASSWORD_TTL_MS,
  type RequestMeta,
  requestPasswordReset,
  resendVerification,
  resetPassword,
  resetPasswordByOperator,
  type SignedIn,
  signUp,
  toAuthUser,
  updateProfile,
  VERIFY_EMAIL_TTL_MS,
  verifyEmail,
} from './accounts.ts';
export { disableUser, enableUser, getUser, listUsers, revokeUserSessions, setRole } from './admin.ts';
export { type CleanupResult, cleanupAuth } from './cleanup.ts';
export { isCommonPassword } from './commonPasswords.ts';
export { isCrossSiteBrowserRequest, isTrustedOrigin } from './csrf.ts';
export { DEVICE_TTL_MS, deviceCookie, MAX_DEVICES_PER_USER, readDeviceCookie } from './devices.ts';
export {
  createOidcClient,
  type OidcClaims,
  type OidcClient,
  type OidcConfig,
  type OidcFlow,
  safeReturnTo,
  signInWithOidc,
} from './oidc.ts';
export { hashPassword, verifyPassword } from './password.ts';
export * from './schemas.ts';
export {
  type AuthUser,
  blankSessionCookie,
  invalidateUserSessions,
  type LiveSession,
  listSessions,
  liveSessions,
  readBearerToken,
  readSessionCookie,
  revokeSession,
  type SessionConfig,
  type SessionInfo,
  sessionCookie,
  type ValidSession,
  validateSession,
} from './sessions.ts';
export {
  type Claim,
  claim,
  claimAll,
  ipThrottleKey,
  rules as throttleRules,
  type ThrottleRule,
} from './throttle.ts';
export { hashToken } from './tokens.ts';
