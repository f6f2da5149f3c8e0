// Test helpers other packages' tests use (whole-system tests); never imported by production code.
export { type FcmStandIn, startFcmStandIn } from './fcm-stand-in.ts';
export {
  type ReceivedPush,
  startWebPushEndpoint,
  type TestSubscription,
  type WebPushEndpoint,
} from './web-push-endpoint.ts';
