// A minimal typed facade over the untyped `smpp` package (node-smpp 0.5): only what the connector and
// the simulator use. The package is CommonJS without types, so it is loaded through createRequire
// and cast once here; everything else in the code base goes through these declarations.

import { createRequire } from 'node:module'
import type { AddressInfo, Socket } from 'node:net'

/** A decoded short_message / message_payload (the library decodes by data_coding and strips the UDH). */
export type DecodedMessage = Buffer | { message: string | Buffer; udh?: Buffer[] }

/** PDU fields as the library reads and writes them; TLVs appear as named fields. */
export interface PduFields {
  sequence_number?: number
  command_status?: number
  system_id?: string
  password?: string
  system_type?: string
  interface_version?: number
  message_id?: string
  source_addr_ton?: number
  source_addr_npi?: number
  source_addr?: string
  dest_addr_ton?: number
  dest_addr_npi?: number
  destination_addr?: string
  esm_class?: number
  registered_delivery?: number
  data_coding?: number
  validity_period?: string
  short_message?: Buffer | DecodedMessage
  message_payload?: Buffer | DecodedMessage
  receipted_message_id?: string
  message_state?: number
  sar_msg_ref_num?: number
  sar_total_segments?: number
  sar_segment_seqnum?: number
  /** TLVs registered at run time (see tlv.ts) are written and read under their registered name. */
  [tlv: string]: unknown
}

export interface Pdu extends PduFields {
  command: string
  command_id: number
  command_status: number
  sequence_number: number
  short_message?: DecodedMessage
  message_payload?: DecodedMessage
  isResponse(): boolean
  /** The PDU on the wire (command_length filled in). */
  toBuffer(): Buffer
  response(fields?: PduFields): Pdu
}

export type ResponseCallback = (pdu: Pdu) => void

export interface Session {
  readonly socket: Socket
  /** Returns false, and never calls back, when the socket is no longer writable. */
  send(pdu: Pdu, onResponse?: ResponseCallback): boolean
  /** Parses whatever is buffered on the socket (the library reads on 'readable' only). */
  resume(): void
  close(onClose?: () => void): void
  destroy(onClose?: () => void): void
  on(event: 'connect' | 'close', fn: () => void): this
  on(event: 'error', fn: (err: Error) => void): this
  on(event: 'pdu', fn: (pdu: Pdu) => void): this
}

export interface SmppServer {
  readonly sessions: Session[]
  listen(port: number, host: string, onListening: () => void): this
  address(): AddressInfo | string | null
  close(onClosed?: (err?: Error) => void): this
  on(event: 'error', fn: (err: Error) => void): this
}

export interface TextCodec {
  encode(text: string): Buffer
  decode(octets: Buffer): string
}

/** Opaque TLV value type descriptor from `smpp.types.tlv`. */
export interface TlvType {
  readonly __tlvType: unique symbol
}

/** One GSM 03.38 table of the library: character → septet, extension character → its escaped form. */
export interface GsmTables {
  extChars?: string
  extCharsEnc?: string
  charListEnc: Record<string, number>
  extCharListEnc: Record<string, string>
}

export interface SmppModule {
  connect(options: { host: string; port: number }): Session
  createServer(options: Record<string, never>, onSession: (session: Session) => void): SmppServer
  PDU: new (command: string, fields?: PduFields) => Pdu
  /** `ASCII` is the library's name for the GSM 03.38 default alphabet (one septet per octet, unpacked). */
  encodings: { ASCII: TextCodec; UCS2: TextCodec; LATIN1: TextCodec }
  /** The GSM 03.38 tables behind `encodings.ASCII` (0x00: the default alphabet). */
  gsmCoder: { getCoder(table: number): GsmTables }
  addTLV(tag: string, options: { id: number; type: TlvType }): void
  types: { tlv: { cstring: TlvType } }
  tlvs: Record<string, { id: number } | undefined>
}

const require = createRequire(import.meta.url)

/** Loads the library; call from factories, not at import time. */
export function loadSmpp(): SmppModule {
  return require('smpp') as SmppModule
}
