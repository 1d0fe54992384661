export {
  type AuthorizeRequest,
  type CaptureRequest,
  PaymentDeclinedError,
  type PaymentProvider,
  PaymentTransientError,
  type RefundRequest,
  type VoidRequest,
  type VoidResult,
} from './provider.ts';
export { createSandboxProvider, type SandboxOptions, SandboxRequestError } from './sandbox.ts';
