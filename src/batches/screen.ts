// The per-recipient screening seam of batches: one call over every recipient that passed the
// batch's own checks (number, template, length, destination), before anything is charged.
// Opt-outs and sender rules (src/compliance) plug in here; a refused recipient is listed in the
// batch's `rejected` with the refusal's code and message, and is neither charged nor sent.

/** Why a recipient was refused (an ApiError fits: its code and message are what is listed). */
export interface RecipientRefusal {
  code: string
  message: string
}

/**
 * Screens the recipients of one batch. `tos` are E.164; the result maps a position in `tos` to
 * its refusal, and leaves out every recipient that may be sent to.
 */
export type ScreenRecipients = (
  customerId: string,
  from: string,
  tos: readonly string[],
) => Promise<Map<number, RecipientRefusal>>

/** The default: refuses nobody. */
export const screenNone: ScreenRecipients = async () => new Map()
