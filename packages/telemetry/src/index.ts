export { createSampler, startTelemetry, type Telemetry, type TelemetryOptions } from './sdk.ts';
