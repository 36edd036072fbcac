/** The TCP transport: framing, the validating codec, peer links and the listener. */
export { formatAddress, parseAddress } from './address.js';
export type { PeerAddress } from './address.js';
export {
  decodeMessage,
  encodeFrameMessage,
  encodeMessage,
  isWireClientRequest,
  isWirePeerMessage,
} from './codec.js';
export type { WireMessage } from './codec.js';
export { encodeFrame, FRAME_BYTES_MAX_DEFAULT, FRAME_HEADER_BYTES, FrameDecoder } from './frame.js';
export { PeerLink, QUEUE_MESSAGES_MAX_DEFAULT } from './peer-link.js';
export type { PeerLinkOptions } from './peer-link.js';
export { TransportServer } from './server.js';
export type { ClientRequestHandler, PeerMessageHandler, TransportServerOptions } from './server.js';
export { TcpTransport } from './tcp-transport.js';
export type { TcpTransportOptions, Transport } from './tcp-transport.js';
