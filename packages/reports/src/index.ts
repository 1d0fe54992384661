export { type CsvValue, csvField, csvLine } from './csv.ts';
export {
  getReport,
  listReports,
  openReportDownload,
  type ReportDownload,
  reportDownloadPath,
  requestSalesReport,
} from './reports.ts';
export {
  type GenerateOptions,
  type GenerateResult,
  generateSalesReport,
  markReportFailed,
  SALE_STATUSES,
  scheduleDailySalesReport,
} from './sales.ts';
export * from './schemas.ts';
