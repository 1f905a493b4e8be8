import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'

export const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222'

/** Removes a test's stream from the shared server (tests use unique stream names). */
export async function deleteStream(name: string): Promise<void> {
  const nc = await connect({ servers: NATS_URL })
  try {
    const jsm = await jetstreamManager(nc)
    await jsm.streams.delete(name).catch(() => false)
  } finally {
    await nc.close()
  }
}
