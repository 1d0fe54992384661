export {
  addCartItem,
  type CommerceSettings,
  clearCart,
  getCart,
  removeCartItem,
  updateCartItem,
} from './cart.ts';
export { checkout } from './checkout.ts';
export { purgeCheckoutKeys } from './cleanup.ts';
export {
  cancelOrder,
  getOrder,
  listAllOrders,
  listOwnOrders,
  markDelivered,
  markShipped,
  orderOwner,
  refundOrder,
  returnStock,
} from './orders.ts';
export {
  type CaptureOutcome,
  capturePayment,
  expirePendingPayments,
  failPayment,
  type ReleaseOutcome,
  refundPayment,
} from './payments.ts';
export * from './schemas.ts';
export {
  type Actor,
  canTransition,
  type TransitionResult,
  transition,
  transitions,
} from './stateMachine.ts';
export { computeTotals, divideHalfUp, type PricedLine, type Totals, taxOn } from './totals.ts';
