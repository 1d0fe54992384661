import { type QueryClient, useQueryClient } from '@tanstack/react-query';
import { type RouterOutputs, useTRPC } from '../trpc.ts';

type Cart = RouterOutputs['cart']['get'];

/**
 * Puts a cart a mutation answered with into the cache. A `cart.get` still in flight (the header's, from
 * the page load) would otherwise land after it and put back the cart from before the change: the cart
 * page then showed "Your cart is empty" right after "Added to your cart". Cancelling it first keeps the
 * newer answer. Two quick changes may still answer out of order (different replicas), so a read made
 * after the change follows, in the background, and settles on what the server committed last.
 */
async function putCart(queryClient: QueryClient, queryKey: readonly unknown[], cart: Cart): Promise<void> {
  await queryClient.cancelQueries({ queryKey });
  queryClient.setQueryData(queryKey, cart);
  void queryClient.invalidateQueries({ queryKey });
}

/** `onSuccess` for the cart mutations (add, update, remove, clear): their answer is the new cart. */
export function useCartAnswer(): (cart: Cart) => Promise<void> {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  return (cart) => putCart(queryClient, trpc.cart.get.queryKey(), cart);
}
