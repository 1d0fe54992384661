export { getProduct, listProducts, PRODUCT_VIEWED, recordProductView, refreshViewCount } from './catalog.ts';
export { CATALOG_CHANNEL, notifyProductsChanged } from './events.ts';
export {
  cursorSchema,
  type ListProductsInput,
  listProductsInput,
  type ProductDto,
  type ProductKey,
  type ProductPage,
  productDto,
  productKey,
  productPage,
  toPrefixQuery,
} from './schemas.ts';
