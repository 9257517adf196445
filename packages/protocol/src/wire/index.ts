/**
 * The Strand wire contract in one place: the strand.v1 package definition, the listeners'
 * channel and server options, the metadata header names, the field validators, and every
 * generated proto type. Importers use the package root, `@strand/protocol`, never gen/.
 */
export type * from "../gen/index.ts";
export {
  PROTO_LOADER_OPTIONS,
  protobufjsPackageDefinition,
  protoDescriptor,
  type StrandGrpc,
  strandGrpc,
  strandPackageDefinition,
} from "./definition.ts";
export {
  AUTHORIZATION_HEADER,
  FORWARDED_BY_HEADER,
  FORWARDED_HEADER,
  PRINCIPAL_HEADER,
  RETRY_AFTER_HEADER,
  SESSION_HEADER,
} from "./headers.ts";
export {
  healthPackageDefinition,
  healthServiceDefinition,
  type ServingStatus,
} from "./health.ts";
export {
  type AuthContextSource,
  identityMismatch,
  NODE_URI_PREFIX,
  nodeIdOfCertificate,
  type PeerIdentity,
  peerIdentity,
  type TransportAuthContext,
} from "./identity.ts";
export {
  CLIENT_MESSAGE_BYTES_MAX,
  clientChannelOptions,
  clientServerOptions,
  INTERNAL_MESSAGE_BYTES_MAX,
  internalChannelOptions,
  internalServerOptions,
} from "./options.ts";
export { type ClientStubs, clientStubs } from "./stubs.ts";
export { channelCredentials, type TlsClientOptions } from "./tls.ts";
export {
  CLIENT_REQUEST_ITEMS_MAX,
  INTERNAL_REQUEST_ITEMS_MAX,
  InvalidArgumentError,
  int32Field,
  int64Field,
  isTopicName,
  listField,
  noDuplicates,
  STRING_LENGTH_MAX,
  stringField,
  TOPIC_NAME_LENGTH_MAX,
  topicField,
  topicNameError,
  totalItemsField,
  uint53Field,
  WAIT_MS_MAX,
} from "./validate.ts";
