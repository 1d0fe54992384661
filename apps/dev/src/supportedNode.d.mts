export declare const REQUIRED: string;
export declare function supported(version: string): boolean;
export declare function problem(version: string, platform?: string, arch?: string): string | undefined;
