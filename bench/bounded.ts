// Runs `count` async jobs with at most `concurrency` in flight, stopping at the first failure:
// setting up 10,000 tenants one by one is too slow, all at once would swamp the server.

export async function runBounded(
  count: number,
  concurrency: number,
  job: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0
  let failed = false
  const worker = async () => {
    while (!failed && next < count) {
      const i = next++
      try {
        await job(i)
      } catch (err) {
        failed = true
        throw err
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
}
