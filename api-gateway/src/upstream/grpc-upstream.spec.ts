import { createGrpcUpstream } from './grpc-upstream.ts';
import { runUpstreamContract } from './upstream.contract.ts';

// grpc-js's Metadata refuses a string value under a `-bin` key, and the
// grpc-js upstream drops what Metadata refuses: such an entry never leaves.
runUpstreamContract('grpc-js', createGrpcUpstream, { binaryRequestMetadata: 'dropped' });
