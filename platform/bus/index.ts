/** What modules use of the bus: its interface, typed requests and bounded copies of buckets. */
export type { Bus, Consumer, DeliveredEvent, ServiceHandle, StreamSpec } from './types.ts';
export { call, endpoint, serve, type RequestDescriptor } from './rpc.ts';
export { Copy, type BucketDescriptor, type CopyStats } from './copy.ts';
